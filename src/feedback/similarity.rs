//! Near-duplicate reports: two reports are compared by the content words
//! they share (their Jaccard similarity: shared words over all words), so
//! that "The app crashes when I import a GIS network of 5000 pipes" and
//! "App crashed importing GIS networks with 5000 pipes" are one issue.
//!
//! A report's content words are kept as its *signature*: the stems of its
//! words that are not stopwords, sorted, without repeats, joined by
//! spaces (see [`crate::feedback::text::content_words`]). Comparing two
//! stored signatures reads no text again.

use super::text::content_words;

/// The signature of `text`.
pub fn signature(text: &str) -> String {
    content_words(text).join(" ")
}

/// The Jaccard similarity of two signatures, in [0, 1]: 1 for the same
/// words, 0 for none in common (and for two empty signatures, which say
/// nothing).
pub fn similarity(a: &str, b: &str) -> f64 {
    let mut a: Vec<&str> = a.split(' ').filter(|w| !w.is_empty()).collect();
    let mut b: Vec<&str> = b.split(' ').filter(|w| !w.is_empty()).collect();
    // Signatures are sorted already; sorting again keeps this right for any input.
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - shared;
    if union == 0 {
        0.0
    } else {
        shared as f64 / union as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rephrasings_are_near_and_other_reports_far() {
        let a = signature("The app crashes when I import a GIS network of 5000 pipes");
        let b = signature("App crashed importing GIS networks with 5000 pipes!");
        let c = signature("The app crashes when I export the cost report");
        assert_eq!(a, "5000 app crash gis import network pip");
        assert_eq!(similarity(&a, &b), 1.0);
        // {app, crash} shared of {5000, app, crash, gis, import, network,
        // pip, export, cost, report}: 2/10.
        assert_eq!(similarity(&a, &c), 0.2);
        assert_eq!(similarity("", ""), 0.0);
        assert_eq!(similarity("b a", "a c"), 1.0 / 3.0);
    }
}
