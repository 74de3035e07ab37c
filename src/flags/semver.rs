//! Semantic versions (SemVer 2.0.0) as the SEMVER_* constraints compare
//! them: strictly parsed (`1.2.3`, `2.0.0-rc.1+build.5`; not `v1.2.3`, not
//! `1.2`), ordered by precedence (build metadata ignored). A version read
//! from a context borrows its text: comparing never allocates.

use std::cmp::Ordering;

/// A parsed version; the pre-release identifiers stay in their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    major: u64,
    minor: u64,
    patch: u64,
    /// Dot-separated identifiers; empty for a release.
    pre: &'a str,
}

impl<'a> Version<'a> {
    /// Parses `text` strictly as SemVer 2.0.0; `None` if it is not one.
    pub fn parse(text: &'a str) -> Option<Version<'a>> {
        let (core, build) = match text.split_once('+') {
            Some((core, build)) => (core, Some(build)),
            None => (text, None),
        };
        if let Some(build) = build
            && !build
                .split('.')
                .all(|id| !id.is_empty() && is_identifier(id))
        {
            return None;
        }
        let (numbers, pre) = match core.split_once('-') {
            Some((numbers, pre)) => (numbers, pre),
            None => (core, ""),
        };
        if core.contains('-') && !pre.split('.').all(valid_pre_identifier) {
            return None;
        }
        let mut parts = numbers.split('.');
        let mut number = || parts.next().and_then(numeric);
        let (major, minor, patch) = (number()?, number()?, number()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// The order of precedence of SemVer 2.0.0, section 11.
    pub fn precedence(&self, other: &Version<'_>) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre(self.pre, other.pre))
    }
}

/// A release ranks above its pre-releases; identifiers compare one by one,
/// numbers numerically and below words, words by ASCII order; a shorter
/// list that is a prefix of a longer one ranks lower.
fn compare_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (is_digits(x), is_digits(y)) {
                    // No leading zeros: the longer number is the larger.
                    (true, true) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_identifier(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_pre_identifier(id: &str) -> bool {
    !id.is_empty() && is_identifier(id) && !(is_digits(id) && id.len() > 1 && id.starts_with('0'))
}

fn numeric(s: &str) -> Option<u64> {
    if !is_digits(s) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(a: &str, b: &str) -> Ordering {
        Version::parse(a)
            .unwrap()
            .precedence(&Version::parse(b).unwrap())
    }

    #[test]
    fn the_precedence_examples_of_the_specification() {
        // SemVer 2.0.0, section 11.
        let ascending = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(order(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(order(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(order("1.0.0+build.1", "1.0.0+build.2"), Ordering::Equal);
        assert_eq!(order("10.0.0", "9.0.0"), Ordering::Greater);
    }

    #[test]
    fn only_strict_versions_parse() {
        for good in [
            "0.0.0",
            "1.2.3",
            "1.2.3-0",
            "1.2.3-x-y.0a",
            "1.2.3+001.sha-5",
        ] {
            assert!(Version::parse(good).is_some(), "{good}");
        }
        for bad in [
            "v1.2.3",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3-a..b",
            "1.2.3+",
            "1.2.3-ä",
            "not a semver",
            "",
            "99999999999999999999.0.0",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }
}
