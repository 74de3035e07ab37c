//! Numbers in the sentences of alerts and recommendations.

/// A number for a sentence: at most three decimals, no trailing zeros.
pub fn short_number(x: f64) -> String {
    if x.is_finite() && x.abs() >= 1e15 {
        return format!("{x:e}");
    }
    let s = format!("{x:.3}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        assert_eq!(short_number(1200.0), "1200");
        assert_eq!(short_number(0.12345), "0.123");
        assert_eq!(short_number(2.5), "2.5");
    }
}
