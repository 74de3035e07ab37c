//! Times on the command line: RFC 3339 (`2026-01-05T09:30:00Z`) or, where a
//! time in the past is meant, a duration back from now (`30m`, `24h`, `7d`),
//! the same in every command that takes `--since`.

use cha_deploy::Error;
use cha_deploy::common::time::parse_rfc3339_ms;

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `--{flag} TEXT` as Unix milliseconds: an RFC 3339 time, or a duration
/// (`30s`, `30m`, `24h`, `7d`) back from `now`.
pub fn time_or_ago(text: &str, flag: &str, now: i64) -> Result<i64, Error> {
    if let Some(ms) = duration_ms(text) {
        return Ok(now.saturating_sub(ms));
    }
    parse_rfc3339_ms(text).map_err(|_| {
        Error::invalid_argument(format!(
            "--{flag} `{text}` is neither a duration such as 30m, 24h or 7d nor an RFC 3339 time such as 2026-01-05T08:00:00Z"
        ))
    })
}

/// `--{flag} TEXT` as an RFC 3339 time in Unix milliseconds.
pub fn time(text: &str, flag: &str) -> Result<i64, Error> {
    parse_rfc3339_ms(text).map_err(|m| Error::invalid_argument(format!("--{flag} `{text}`: {m}")))
}

/// `30s`, `30m`, `24h`, `7d` in ms; `None` if `text` is not one.
fn duration_ms(text: &str) -> Option<i64> {
    let (n, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n >= 0)?;
    let unit_ms = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_count_back_from_now_and_times_are_rfc3339() {
        let now = 1_767_571_200_000; // 2026-01-05T00:00:00Z
        assert_eq!(time_or_ago("30m", "since", now).unwrap(), now - 1_800_000);
        assert_eq!(time_or_ago("7d", "since", now).unwrap(), now - 604_800_000);
        assert_eq!(
            time_or_ago("2026-01-04T00:00:00Z", "since", now).unwrap(),
            now - 86_400_000
        );
        let err = time_or_ago("yesterday", "since", now).unwrap_err();
        assert!(
            err.message()
                .starts_with("--since `yesterday` is neither a duration"),
            "{err}"
        );
        assert!(err.message().contains("24h"), "{err}");
        assert!(time_or_ago("-5m", "since", now).is_err());
        assert!(time_or_ago("", "since", now).is_err());
    }
}
