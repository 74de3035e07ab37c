//! The naming rule of flags, experiments, variants and metrics.

/// The longest name accepted, in bytes.
pub const MAX_NAME: usize = 128;

/// Checks a flag name: 1–128 bytes of UTF-8 that are safe in a CLI
/// argument, a path and a log line. ASCII characters are limited to
/// `A–Z a–z 0–9 _ . -`; beyond ASCII, letters, digits, symbols and emoji of
/// any script are accepted (`Hellø_Wørld`, `φriend_你好`), but never
/// control or formatting characters (bidi overrides, zero-width
/// characters), whitespace, quotation marks or slashes. `.` and `..` alone
/// are refused. Experiment ids, variant and segment names follow the same
/// rule.
///
/// # Errors
/// A message naming the problem ("flag name" in it may be replaced by the
/// caller's word for the thing named).
pub fn check_flag_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a flag name has 1 to {MAX_NAME} bytes"));
    }
    if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        let unseen = c.is_control() || (!c.is_ascii() && (c.is_whitespace() || invisible(c)));
        let shown = if unseen {
            c.escape_unicode().to_string()
        } else {
            c.to_string()
        };
        let name: String = name.chars().flat_map(char::escape_debug).collect();
        return Err(format!(
            "flag name `{name}` contains `{shown}`; use letters, digits, `_`, `.` and `-`"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!(
            "flag name `{name}` is a path component; use letters, digits, `_`, `.` and `-`"
        ));
    }
    Ok(())
}

/// Whether `c` may appear in a name.
fn allowed(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    }
    !(c.is_control() || c.is_whitespace() || invisible(c) || quote_or_slash(c))
}

/// Formatting characters that change how text is shown without being seen:
/// the soft hyphen, zero-width characters, bidi controls, word joiners,
/// the byte-order mark and interlinear annotations.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Quotation marks and slashes beyond ASCII, which a shell, a file system
/// or a reader could take for the ASCII ones.
fn quote_or_slash(c: char) -> bool {
    matches!(
        c,
        '\u{00AB}' | '\u{00BB}' | '\u{2018}'
            ..='\u{201F}'
                | '\u{2039}'
                | '\u{203A}'
                | '\u{2044}'
                | '\u{2215}'
                | '\u{2216}'
                | '\u{29F5}'
                | '\u{29F8}'
                | '\u{29F9}'
                | '\u{FF02}'
                | '\u{FF07}'
                | '\u{FF0F}'
                | '\u{FF3C}'
    )
}

/// `; did you mean `x`?` when one of `known` is close to the unknown `name`
/// (a typo of a few letters, another case, or a part of the name), else
/// nothing: the tail of a "does not exist" message, the same on every
/// surface since it is written once, here.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    // No name is longer; and the distance of a megabyte of input to each
    // known name would take a matrix of that many rows each.
    if name.len() > MAX_NAME {
        return String::new();
    }
    let wanted = name.to_lowercase();
    // Up to a third of the letters may be wrong, and at least two.
    let allowed = (wanted.chars().count() / 3).max(2);
    let best = known
        .into_iter()
        .filter_map(|k| {
            let lower = k.to_lowercase();
            let distance = strsim::damerau_levenshtein(&wanted, &lower);
            let part = wanted.len() >= 3 && (lower.contains(&wanted) || wanted.contains(&lower));
            (distance <= allowed || part).then_some((distance, k))
        })
        .min();
    match best {
        Some((_, k)) => format!("; did you mean `{k}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_may_be_unicode_but_never_unsafe() {
        for ok in [
            "intelligent_pipe_sizing",
            "Feature.UTF-8.Hellø_Wørld",
            "Feature.UTF-8.😊_φriend_你好_🌍",
            "v2.0-rc.1",
        ] {
            assert_eq!(check_flag_name(ok), Ok(()), "{ok}");
        }
        let refused = [
            ("a b", "` `"),
            ("a/b", "`/`"),
            ("a\\b", "`\\`"),
            ("a'b", "`'`"),
            ("a\"b", "`\"`"),
            ("a\u{2019}b", "`\u{2019}`"),
            ("a\u{FF0F}b", "`\u{ff0f}`"),
            ("a\tb", "`\\u{9}`"),
            ("a\u{1b}[31mb", "`\\u{1b}`"),
            ("evil\u{202E}txt", "`\\u{202e}`"),
            ("zero\u{200B}width", "`\\u{200b}`"),
            ("no\u{00A0}break", "`\\u{a0}`"),
            ("$HOME", "`$`"),
        ];
        for (name, shown) in refused {
            let err = check_flag_name(name).unwrap_err();
            assert!(
                err.contains(&format!("contains {shown}")),
                "{name:?}: {err}"
            );
            assert!(!err.chars().any(|c| c.is_control()), "{err:?}");
        }
        assert!(
            check_flag_name("..")
                .unwrap_err()
                .contains("path component")
        );
        assert!(check_flag_name(".").is_err());
        assert!(check_flag_name("").is_err());
        assert!(check_flag_name(&"é".repeat(64)).is_ok());
        assert!(
            check_flag_name(&"é".repeat(65))
                .unwrap_err()
                .contains("1 to 128 bytes")
        );
    }

    #[test]
    fn did_you_mean_suggests_the_closest_known_name() {
        let known = [
            "intelligent_pipe_sizing",
            "legacy_solver",
            "pipe_sizing_comparison",
        ];
        let hint = |n| did_you_mean(n, known);
        assert_eq!(
            hint("intelligent_pipe_sizng"),
            "; did you mean `intelligent_pipe_sizing`?"
        );
        assert_eq!(hint("Legacy_Solver"), "; did you mean `legacy_solver`?");
        assert_eq!(
            hint("pipe_sizing_comparision"),
            "; did you mean `pipe_sizing_comparison`?"
        );
        assert_eq!(hint("solver"), "; did you mean `legacy_solver`?");
        assert_eq!(hint("velocity_limit"), "");
        assert_eq!(did_you_mean("x", []), "");
        let long = format!("intelligent_pipe_sizing{}", "x".repeat(MAX_NAME));
        assert_eq!(hint(&long), "");
    }
}
