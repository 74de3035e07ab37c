//! The mergeable summary of a set of feedback items: what the store keeps
//! per day and group, and what the analysis adds up.

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// Mergeable statistics of a set of items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemStats {
    /// How many items.
    pub items: u64,
    /// Their ratings (n: the items that have one).
    pub rating: Summary,
    /// How many ratings were 4 or 5.
    pub satisfied: u64,
    /// Their sentiment scores (n: every item).
    pub sentiment: Summary,
}

impl ItemStats {
    /// Adds one item with `rating` (1–5, if any) and sentiment `score`.
    pub fn push(&mut self, rating: Option<u8>, score: f64) {
        self.items += 1;
        if let Some(r) = rating {
            self.rating.push(f64::from(r));
            if r >= 4 {
                self.satisfied += 1;
            }
        }
        self.sentiment.push(score);
    }

    /// Adds every item of `other`.
    pub fn merge(&mut self, other: &ItemStats) {
        self.items += other.items;
        self.rating.merge(&other.rating);
        self.satisfied += other.satisfied;
        self.sentiment.merge(&other.sentiment);
    }

    /// The mean rating, if any item has one.
    pub fn average_rating(&self) -> Option<f64> {
        (self.rating.n > 0).then_some(self.rating.mean())
    }

    /// CSAT: the share of ratings that are 4 or 5.
    pub fn csat(&self) -> Option<f64> {
        (self.rating.n > 0).then(|| self.satisfied as f64 / self.rating.n as f64)
    }

    /// The mean sentiment score, if there is any item.
    pub fn sentiment_mean(&self) -> Option<f64> {
        (self.sentiment.n > 0).then_some(self.sentiment.mean())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(ratings: &[u8], scores: &[f64]) -> ItemStats {
        let mut s = ItemStats::default();
        for (i, score) in scores.iter().enumerate() {
            s.push(ratings.get(i).copied(), *score);
        }
        s
    }

    #[test]
    fn item_stats_count_ratings_csat_and_sentiment() {
        let s = stats(&[5, 4, 2, 1], &[0.5, 0.2, -0.4, -0.8, 0.0]);
        assert_eq!((s.items, s.rating.n, s.satisfied), (5, 4, 2));
        assert_eq!(s.average_rating(), Some(3.0));
        assert_eq!(s.csat(), Some(0.5));
        assert!((s.sentiment_mean().unwrap() - (-0.1)).abs() < 1e-12);
        let mut merged = stats(&[5, 4], &[0.5, 0.2]);
        merged.merge(&stats(&[2, 1], &[-0.4, -0.8, 0.0]));
        assert_eq!(merged.items, s.items);
        assert!((merged.rating.m2() - s.rating.m2()).abs() < 1e-12);
        assert_eq!(ItemStats::default().csat(), None);
    }
}
