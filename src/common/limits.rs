//! The sizes of what a caller may hand in, and how input is quoted back in
//! messages. Each limit is checked where its input enters the library, on
//! every surface alike, with an error that names it; README.md lists them.
//! (Names: [`super::names::MAX_NAME`]; unit ids, feedback, metrics and
//! config files keep their limits beside their own rules.)

use std::borrow::Cow;

/// The longest actor (who made a change), in bytes.
pub const MAX_ACTOR_BYTES: usize = 256;

/// The longest description of a flag or an A/B test, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// The most items of one list of a flag: `include_groups`,
/// `exclude_groups`, `allow_users`, `deny_users`, `tags`. Every later
/// change of any flag checks the whole set: a flag of a million groups made
/// each one take seconds.
pub const MAX_LIST_ITEMS: usize = 1000;

/// The longest item of such a list (a group, a user id, a tag), in bytes.
pub const MAX_LIST_ITEM_BYTES: usize = 1024;

/// The most prerequisites one flag may name.
pub const MAX_PREREQUISITES: usize = 16;

/// The most flags a check may evaluate for one flag: the flag, its
/// prerequisites, theirs and so on, a flag counted once for every path that
/// reaches it. Evaluation walks that tree on every check, so its size is
/// the cost of a check, and its depth the depth of the recursion.
pub const MAX_PREREQUISITE_TREE: usize = 64;

/// The most groups of one evaluation context (`groups` of a context, or
/// `n_groups` of `cha_flag_enabled`).
pub const MAX_CONTEXT_GROUPS: usize = 1000;

/// The largest JSON argument of the C ABI (a context, updates, feedback,
/// tags, options), in bytes: refused before it is parsed. The largest
/// valid ones (a feedback of 64 KiB of text and 64 KiB of context, a flag
/// of long lists) fit; a million-element array does not.
pub const MAX_JSON_BYTES: usize = 1 << 20;

/// The most bytes of a caller's input that a message quotes back; longer
/// input is cut, with its length said. Valid names fit whole.
pub const MAX_QUOTED_BYTES: usize = 128;

/// `text` as a message quotes it: whole up to [`MAX_QUOTED_BYTES`], else
/// its beginning with `…` and its size, so that a megabyte of input does
/// not come back as a megabyte of message.
pub fn excerpt(text: &str) -> Cow<'_, str> {
    cut(text, MAX_QUOTED_BYTES)
}

/// `text` whole up to `max` bytes, else its first `max` bytes (to a
/// character boundary) with `…` and its size.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len()))
}

/// Checks that `what` (for the message: "actor", "description") has at
/// most `max` bytes.
///
/// # Errors
/// A message naming the limit and the size found.
pub fn check_bytes(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.len() > max {
        Err(format!(
            "{what} has {} bytes, more than the {max} allowed",
            text.len()
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_quoted_whole_and_long_text_is_cut_at_a_character() {
        assert_eq!(
            excerpt("intelligent_pipe_sizing"),
            "intelligent_pipe_sizing"
        );
        let name = "n".repeat(MAX_QUOTED_BYTES);
        assert_eq!(excerpt(&name), name.as_str());
        let long = "x".repeat(1 << 20);
        assert_eq!(
            excerpt(&long),
            format!("{}… (1048576 bytes)", "x".repeat(MAX_QUOTED_BYTES))
        );
        // 'é' is two bytes: the cut falls before the one that straddles it.
        let accents = format!("a{}", "é".repeat(100));
        let cut = excerpt(&accents);
        assert!(cut.starts_with(&format!("a{}…", "é".repeat(63))), "{cut}");
        assert!(cut.ends_with("… (201 bytes)"), "{cut}");
    }

    #[test]
    fn sizes_are_checked_in_bytes() {
        assert_eq!(check_bytes("actor", "ops", MAX_ACTOR_BYTES), Ok(()));
        assert_eq!(
            check_bytes("actor", &"a".repeat(257), MAX_ACTOR_BYTES),
            Err("actor has 257 bytes, more than the 256 allowed".into())
        );
    }
}
