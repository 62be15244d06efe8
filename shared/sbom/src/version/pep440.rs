//! PEP 440 version parsing and ordering (epochs, release segments, pre/post/dev releases, local labels).

use std::cmp::Ordering;

/// A parsed PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pep440Version {
    epoch: u64,
    release: Vec<u64>,
    /// (phase: 0 = a, 1 = b, 2 = rc; number)
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<LocalSegment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LocalSegment {
    Number(u64),
    Text(String),
}

/// Where a version sits among the releases of its `release` tuple.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PreKey {
    /// `1.0.dev1`: below every pre-release of 1.0.
    DevOnly,
    Pre(u8, u64),
    /// No pre-release: a final or post release.
    Final,
}

impl Pep440Version {
    /// Parses a version in any normalisable PEP 440 spelling (`1.0RC1`, `v2.0-post1`, `1!3.0.dev2`…).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let text = text.strip_prefix('v').unwrap_or(&text);
        let (public, local) = match text.split_once('+') {
            Some((public, local)) => (public, Some(local)),
            None => (text, None),
        };
        let (epoch, rest) = match public.split_once('!') {
            Some((epoch, rest)) => (epoch.parse().ok()?, rest),
            None => (0, public),
        };
        let mut cursor = Cursor { rest };
        let mut release = vec![cursor.number()?];
        while let Some(after_dot) = cursor.rest.strip_prefix('.') {
            if !after_dot.starts_with(|c: char| c.is_ascii_digit()) {
                break;
            }
            cursor.rest = after_dot;
            release.push(cursor.number()?);
        }
        let pre = cursor.labelled(&[
            ("alpha", 0),
            ("a", 0),
            ("beta", 1),
            ("b", 1),
            ("preview", 2),
            ("pre", 2),
            ("rc", 2),
            ("c", 2),
        ]);
        let post = cursor
            .labelled(&[("post", 0), ("rev", 0), ("r", 0)])
            .map(|(_, number)| number)
            .or_else(|| cursor.implicit_post());
        let dev = cursor.labelled(&[("dev", 0)]).map(|(_, number)| number);
        if !cursor.rest.is_empty() {
            return None;
        }
        let local = match local {
            None => Vec::new(),
            Some(local) => local
                .split(['.', '-', '_'])
                .map(|part| match part.parse() {
                    Ok(number) => Some(LocalSegment::Number(number)),
                    Err(_)
                        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()) =>
                    {
                        Some(LocalSegment::Text(part.to_string()))
                    }
                    Err(_) => None,
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(Pep440Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    fn pre_key(&self) -> PreKey {
        match (self.pre, self.post, self.dev) {
            (Some((phase, number)), _, _) => PreKey::Pre(phase, number),
            (None, None, Some(_)) => PreKey::DevOnly,
            _ => PreKey::Final,
        }
    }
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let length = self.release.len().max(other.release.len());
        let padded = |release: &[u64]| -> Vec<u64> {
            (0..length)
                .map(|i| release.get(i).copied().unwrap_or(0))
                .collect()
        };
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| padded(&self.release).cmp(&padded(&other.release)))
            .then_with(|| self.pre_key().cmp(&other.pre_key()))
            // No post release sorts below any post release.
            .then_with(|| self.post.map(|n| n + 1).cmp(&other.post.map(|n| n + 1)))
            // No dev release sorts above any dev release.
            .then_with(|| match (self.dev, other.dev) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(&b),
            })
            .then_with(|| compare_local(&self.local, &other.local))
    }
}

impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Local labels: absent sorts first; numeric segments sort above text ones.
fn compare_local(left: &[LocalSegment], right: &[LocalSegment]) -> Ordering {
    for (a, b) in left.iter().zip(right) {
        let ordering = match (a, b) {
            (LocalSegment::Number(a), LocalSegment::Number(b)) => a.cmp(b),
            (LocalSegment::Text(a), LocalSegment::Text(b)) => a.cmp(b),
            (LocalSegment::Number(_), LocalSegment::Text(_)) => Ordering::Greater,
            (LocalSegment::Text(_), LocalSegment::Number(_)) => Ordering::Less,
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    left.len().cmp(&right.len())
}

struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn number(&mut self) -> Option<u64> {
        let end = self
            .rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.rest.len());
        let number = self.rest[..end].parse().ok()?;
        self.rest = &self.rest[end..];
        Some(number)
    }

    /// `[sep] LABEL [sep] [N]`; the number defaults to 0.
    fn labelled(&mut self, labels: &[(&str, u8)]) -> Option<(u8, u64)> {
        let after_separator = self.rest.trim_start_matches(['.', '-', '_']);
        if after_separator.len() + 1 < self.rest.len() {
            return None; // more than one separator
        }
        let (label, phase) = labels
            .iter()
            .find(|(label, _)| after_separator.starts_with(label))?;
        let after_label = &after_separator[label.len()..];
        let after_number_separator = after_label.trim_start_matches(['.', '-', '_']);
        let has_digits = after_number_separator.starts_with(|c: char| c.is_ascii_digit());
        if has_digits && after_label.len() <= after_number_separator.len() + 1 {
            self.rest = after_number_separator;
            let number = self.number()?;
            Some((*phase, number))
        } else {
            self.rest = after_label;
            Some((*phase, 0))
        }
    }

    /// `1.0-1` means `1.0.post1`.
    fn implicit_post(&mut self) -> Option<u64> {
        let digits = self.rest.strip_prefix('-')?;
        if !digits.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        self.rest = digits;
        self.number()
    }
}
