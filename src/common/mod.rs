//! The small pieces every engine shares: bucketing, ids given as numbers,
//! percentages in hundredths, the naming rule and RFC 3339 times. A leaf: it imports
//! nothing of the crate but the error type, so the engines that use it stay
//! free of each other and of `config`.

pub mod bucket;
pub mod ids;
pub mod limits;
pub mod names;
pub mod percent;
pub(crate) mod text;
pub mod time;
