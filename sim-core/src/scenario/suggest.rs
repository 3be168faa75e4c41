//! "Did you mean ...?": the closest known name to a misspelt one.
//!
//! Distance is the optimal-string-alignment edit distance (insertions,
//! deletions, substitutions and swaps of neighbours each cost 1), compared
//! case-insensitively. A suggestion is made only when the distance is small
//! for the name's length, so `latncy` suggests `latency` but `xyz` suggests
//! nothing. Ties go to the earliest candidate, so suggestions are stable.

/// The candidate closest to `name`, if one is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted: Vec<char> = name.to_lowercase().chars().collect();
    let limit = (wanted.len() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let c: Vec<char> = candidate.to_lowercase().chars().collect();
        let d = edit_distance(&wanted, &c);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance between two strings of chars.
pub fn edit_distance(a: &[char], b: &[char]) -> usize {
    let (n, m) = (a.len(), b.len());
    // Three rows: two back (for swaps), previous and current.
    let mut two_back = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            cur[j] = d;
        }
        core::mem::swap(&mut two_back, &mut prev);
        core::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(a: &str, b: &str) -> usize {
        edit_distance(
            &a.chars().collect::<Vec<_>>(),
            &b.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn distances() {
        assert_eq!(d("", ""), 0);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("latency", "latncy"), 1);
        assert_eq!(d("retries", "retires"), 1, "a swap of neighbours costs one");
        assert_eq!(d("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_names() {
        let fields = ["latency", "loss", "duplicate", "reorder"];
        assert_eq!(did_you_mean("latncy", fields), Some("latency"));
        assert_eq!(did_you_mean("Loss", fields), Some("loss"));
        assert_eq!(did_you_mean("duplcate", fields), Some("duplicate"));
        assert_eq!(did_you_mean("xyz", fields), None);
        assert_eq!(did_you_mean("", fields), None);
        // Ties go to the first candidate.
        assert_eq!(did_you_mean("ab", ["ac", "ad"]), Some("ac"));
    }
}
