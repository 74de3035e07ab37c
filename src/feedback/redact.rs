//! Redaction of personal data from feedback text before it is stored:
//! e-mail addresses become `[email]` and phone numbers `[phone]`.
//!
//! The rules, and what they leave alone:
//!
//! - An **e-mail address** is `local@domain` with a local part of letters,
//!   digits and `. _ % + -`, and a domain of at least two labels whose last
//!   has two letters or more (`anna.berg@stadtwerke.example`).
//! - A **phone number** is a run of digits with the separators people write
//!   in phone numbers (space, `-`, `.`, `/`, brackets, a leading `+`) that
//!   holds 7 to 15 digits (E.164 allows 15) and either starts with `+`, `(`
//!   or `0`, or is split into groups. The numbers of an engineering text are
//!   kept: a plain count ("5000 pipes", "1234567"), an ISO date
//!   (2026-01-05), a decimal ("0.0123456") and a number grouped by
//!   thousands ("1 250 000 EUR", "12.345.678").

/// What redacting a text did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The text with personal data replaced.
    pub text: String,
    /// How many e-mail addresses were replaced.
    pub emails: usize,
    /// How many phone numbers were replaced.
    pub phones: usize,
}

/// `text` with its e-mail addresses and phone numbers replaced.
pub fn redact(text: &str) -> Redacted {
    let (text, emails) = replace_emails(text);
    let (text, phones) = replace_phones(&text);
    Redacted {
        text,
        emails,
        phones,
    }
}

fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

fn replace_emails(text: &str) -> (String, usize) {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut copied = 0;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > copied && is_local_char(chars[start - 1]) {
            start -= 1;
        }
        // A local part does not start or end with a dot.
        while start < i && chars[start] == '.' {
            start += 1;
        }
        let mut end = i + 1;
        while end < chars.len() && is_domain_char(chars[end]) {
            end += 1;
        }
        // A sentence's full stop after the address is not part of it.
        while end > i + 1 && matches!(chars[end - 1], '.' | '-') {
            end -= 1;
        }
        let domain: String = chars[i + 1..end].iter().collect();
        let labels: Vec<&str> = domain.split('.').collect();
        let valid = start < i
            && chars[i - 1] != '.'
            && labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty())
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if valid {
            out.extend(&chars[copied..start]);
            out.push_str("[email]");
            copied = end;
            count += 1;
            i = end;
        } else {
            i += 1;
        }
    }
    out.extend(&chars[copied..]);
    (out, count)
}

fn is_phone_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '/' | '(' | ')')
}

fn replace_phones(text: &str) -> (String, usize) {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_run = (c.is_ascii_digit() || c == '+' || c == '(')
            && (i == 0 || !chars[i - 1].is_alphanumeric());
        if !starts_run {
            out.push(c);
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < chars.len() && is_phone_char(chars[end]) {
            end += 1;
        }
        // The run ends at its last digit (or a closing bracket of a group).
        while end > i && !chars[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let run: String = chars[i..end].iter().collect();
        let glued = end < chars.len() && chars[end].is_alphanumeric();
        if !glued && end > i && is_phone_number(&run) {
            out.push_str("[phone]");
            count += 1;
            i = end;
        } else {
            // Not a phone number: the whole run is kept as it is, so that
            // no piece of a longer number ("0.0123456") is taken for one.
            let next = end.max(i + 1);
            out.extend(&chars[i..next]);
            i = next;
        }
    }
    (out, count)
}

/// Whether `run` (digits and separators, starting with a digit, `+` or
/// `(`, ending with a digit) is written as a phone number.
fn is_phone_number(run: &str) -> bool {
    let digits = run.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return false;
    }
    let groups: Vec<&str> = run
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    if groups.len() == 3
        && groups[0].len() == 4
        && groups[1].len() == 2
        && groups[2].len() == 2
        && run.contains('-')
    {
        return false; // an ISO date
    }
    let separators: Vec<char> = run.chars().filter(|c| !c.is_ascii_digit()).collect();
    // A decimal number: one dot between two groups ("0.0123456").
    if groups.len() == 2 && separators == ['.'] {
        return false;
    }
    let marked = run.starts_with('+') || run.starts_with('(') || run.starts_with('0');
    if !marked {
        if groups.len() < 2 {
            return false; // a plain count
        }
        // Thousands: every group after the first has three digits, with one
        // kind of separator ("1 250 000", "12.345.678").
        let thousands = groups[1..].iter().all(|g| g.len() == 3)
            && groups[0].len() <= 3
            && separators.windows(2).all(|w| w[0] == w[1]);
        if thousands {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phones_are_replaced() {
        let r = redact(
            "Call me at +49 30 1234567 or (030) 123-4567, or mail anna.berg@stadtwerke.example.",
        );
        assert_eq!(r.text, "Call me at [phone] or [phone], or mail [email].");
        assert_eq!((r.emails, r.phones), (1, 2));
        let r = redact("US office 555-123-4567; j_doe+cha@mail.co.uk says hi");
        assert_eq!(r.text, "US office [phone]; [email] says hi");
        assert_eq!(redact("0171/2345678").text, "[phone]");
    }

    #[test]
    fn engineering_numbers_are_kept() {
        for text in [
            "The network has 5000 pipes and 1234567 Pa somewhere",
            "Calculated on 2026-01-05 at 08:00",
            "The cost is 1 250 000 EUR, or 12.345.678 in total",
            "Roughness 0.0123456 m, DN150, 70/40 °C, EN 15698",
            "version 2.3.1 of the tool",
            "user@localhost is not an address, nor is a@b or @home",
        ] {
            let r = redact(text);
            assert_eq!(r.text, text);
            assert_eq!((r.emails, r.phones), (0, 0), "{text}");
        }
    }
}
