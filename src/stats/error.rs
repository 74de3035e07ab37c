//! The typed errors of the statistics engine.

use std::fmt;

/// Which arm of a two-arm comparison an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arm {
    /// The baseline variant.
    Control,
    /// The variant being tested.
    Treatment,
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arm::Control => "control",
            Arm::Treatment => "treatment",
        })
    }
}

/// Why a statistic could not be computed. Degenerate data gets one of these
/// instead of a NaN dressed up as a result. Holds no heap data, so the O(1)
/// analysis functions stay allocation-free on the error path too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatsError {
    /// An arm has fewer observations than the statistic needs (two, for a
    /// sample variance).
    TooFewObservations {
        /// The arm that is short.
        arm: Arm,
        /// How many observations it has.
        n: u64,
    },
    /// Both arms have zero variance: the standard error is zero and the test
    /// statistic undefined.
    ZeroVariance,
    /// The control mean is zero, so a relative lift is undefined.
    ZeroControlMean,
    /// An argument is outside its domain (named, with the rule it broke).
    InvalidArgument {
        /// The parameter's name.
        name: &'static str,
        /// The rule, e.g. "must be in (0, 1)".
        rule: &'static str,
    },
    /// A solver found no value meeting the request (e.g. a power no sample
    /// size can reach).
    NoSolution(&'static str),
    /// The target power is already reached at the smallest sample size the
    /// test allows, `nobs1` (the effect is huge next to the spread).
    ReachedAtMinimum { nobs1: f64 },
}

impl StatsError {
    pub(crate) fn invalid(name: &'static str, rule: &'static str) -> Self {
        StatsError::InvalidArgument { name, rule }
    }
}

impl fmt::Display for StatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsError::TooFewObservations { arm, n } => {
                write!(
                    f,
                    "the {arm} arm has {n} observation(s); at least 2 are needed"
                )
            }
            StatsError::ZeroVariance => {
                f.write_str("both arms have zero variance; the test statistic is undefined")
            }
            StatsError::ZeroControlMean => {
                f.write_str("the control mean is zero; a relative lift is undefined")
            }
            StatsError::InvalidArgument { name, rule } => write!(f, "`{name}` {rule}"),
            StatsError::NoSolution(why) => write!(f, "no solution: {why}"),
            StatsError::ReachedAtMinimum { nobs1 } => write!(
                f,
                "the target power is already reached at the smallest sample size ({nobs1} per arm)"
            ),
        }
    }
}

impl std::error::Error for StatsError {}

impl From<StatsError> for crate::Error {
    fn from(e: StatsError) -> Self {
        crate::Error::invalid_argument(e.to_string())
    }
}

/// Checks that `x` is finite and inside the open interval (0, 1).
pub(crate) fn check_probability(name: &'static str, x: f64) -> Result<(), StatsError> {
    if x > 0.0 && x < 1.0 {
        Ok(())
    } else {
        Err(StatsError::invalid(
            name,
            "must be in the open interval (0, 1)",
        ))
    }
}
