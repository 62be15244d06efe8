//! The order in which the keywords are handed to the SIMD search (aho-corasick's fat Teddy) so that each of
//! its 16 buckets holds keywords alike. Teddy flags a position when its first bytes fit the nybbles of some
//! bucket's keywords, then compares that bucket's keywords there: a bucket of unlike keywords (`key` beside
//! `aws` and `://`) admits a large share of ordinary text, and the search spends its time on those
//! comparisons. Keywords are grouped greedily by how much of lowercased source text a bucket's nybbles would
//! admit, then laid out so that the library's own assignment puts each where planned: in the order given,
//! a keyword whose low nybbles (of the bytes Teddy looks at) are new goes to bucket `15 - index % 16`, one
//! whose low nybbles were seen joins that keyword's bucket. Only speed depends on this: every keyword is
//! searched, whichever bucket it lands in.

use std::collections::HashMap;

/// Fat Teddy's buckets.
const BUCKETS: usize = 16;
/// Keywords with different low nybbles per bucket, at most: each is one more round of 16 in the layout.
const PER_BUCKET: usize = 4;
/// The most patterns the library takes for Teddy.
const MAX_PATTERNS: usize = 64;

/// The keywords (lowercase, none shorter than 3 bytes) in the order to give the SIMD search, some given
/// twice to fill places, or `None` when they are too few or too many for a plan.
pub(crate) fn teddy_order(keywords: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    let mask = keywords.iter().map(Vec::len).min()?.min(4);
    if mask < 3 {
        return None;
    }
    let plan = plan(keywords, mask)?;
    layout(&plan, mask)
}

/// How often a byte is met in lowercased source text, roughly: letters most, then digits, space and `_`,
/// then other printable ASCII; upper case never (it was lowercased), other bytes too rarely to count.
fn weight(byte: u8) -> f64 {
    match byte {
        b'a'..=b'z' => 4.0,
        b'0'..=b'9' | b' ' | b'_' => 2.0,
        b'!'..=b'~' | b'\n' | b'\t' => 1.0,
        _ => 0.0,
    }
}

/// Each byte's share of [`weight`]s, by its high and low nybble.
struct Shares([[f64; 16]; 16]);

impl Shares {
    fn new() -> Self {
        let total: f64 = (0..=255u8).map(weight).sum();
        let mut shares = [[0.0; 16]; 16];
        for byte in 0..=255u8 {
            shares[usize::from(byte >> 4)][usize::from(byte & 0xf)] = weight(byte) / total;
        }
        Self(shares)
    }

    /// The share of text positions a bucket holding `keywords` flags, times the comparisons each costs.
    fn cost(&self, keywords: &[&[u8]], mask: usize) -> f64 {
        if keywords.is_empty() {
            return 0.0;
        }
        let admitted = (0..mask).map(|at| {
            let (low, high) = keywords.iter().fold((0u16, 0u16), |(low, high), k| {
                (low | 1 << (k[at] & 0xf), high | 1 << (k[at] >> 4))
            });
            let set = |bits: u16| (0..16).filter(move |n| bits & 1 << n != 0);
            set(high)
                .flat_map(|h| set(low).map(move |l| (h, l)))
                .map(|(h, l)| self.0[h][l])
                .sum::<f64>()
        });
        admitted.product::<f64>() * (1.0 + 0.2 * keywords.len() as f64)
    }
}

fn low_nybbles(keyword: &[u8], mask: usize) -> Vec<u8> {
    keyword[..mask].iter().map(|b| b & 0xf).collect()
}

/// Keywords grouped into buckets, each keyword where it adds least cost (the costliest placed first), a
/// keyword whose low nybbles are already in a bucket in that one; `None` when a bucket is left empty (too
/// few keywords) or none has room left (too many).
fn plan(keywords: &[Vec<u8>], mask: usize) -> Option<Vec<Vec<&[u8]>>> {
    let shares = Shares::new();
    let cost = |keywords: &[&[u8]]| shares.cost(keywords, mask);
    let mut order: Vec<&[u8]> = keywords.iter().map(Vec::as_slice).collect();
    order.sort_by(|a, b| cost(&[b]).total_cmp(&cost(&[a])).then(a.cmp(b)));
    let mut buckets: Vec<Vec<&[u8]>> = vec![Vec::new(); BUCKETS];
    let mut home: HashMap<Vec<u8>, usize> = HashMap::new();
    for keyword in order {
        let nybbles = low_nybbles(keyword, mask);
        let bucket = match home.get(&nybbles) {
            Some(&bucket) => bucket,
            None => {
                let added = |b: usize| {
                    let mut with = buckets[b].clone();
                    with.push(keyword);
                    cost(&with) - cost(&buckets[b])
                };
                let distinct = |b: usize| home.values().filter(|&&home| home == b).count();
                let (bucket, _) = (0..BUCKETS)
                    .filter(|&b| distinct(b) < PER_BUCKET)
                    .map(|b| (b, added(b)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))?;
                home.insert(nybbles, bucket);
                bucket
            }
        };
        buckets[bucket].push(keyword);
    }
    if buckets.iter().any(Vec::is_empty) {
        return None;
    }
    Some(buckets)
}

/// The order that makes the library put each planned bucket's keywords together: round `r` gives each
/// bucket its `r`-th keyword with new low nybbles (planned bucket `n` becomes bucket `15 - n`); a bucket with
/// none left gets a keyword whose nybbles are known (it joins its own bucket), or the first keyword again.
fn layout(buckets: &[Vec<&[u8]>], mask: usize) -> Option<Vec<Vec<u8>>> {
    let mut leaders: Vec<Vec<&[u8]>> = Vec::new();
    let mut followers: Vec<&[u8]> = Vec::new();
    for bucket in buckets {
        let mut seen = Vec::new();
        let mut lead = Vec::new();
        for &keyword in bucket {
            let nybbles = low_nybbles(keyword, mask);
            if seen.contains(&nybbles) {
                followers.push(keyword);
            } else {
                seen.push(nybbles);
                lead.push(keyword);
            }
        }
        leaders.push(lead);
    }
    // The fullest first: a round's last places then go unfilled rather than filled.
    leaders.sort_by_key(|lead| std::cmp::Reverse(lead.len()));
    let rounds = leaders.first()?.len();
    let mut order: Vec<&[u8]> = Vec::new();
    let mut known: Vec<Vec<u8>> = Vec::new();
    for round in 0..rounds {
        for lead in &leaders {
            match lead.get(round) {
                Some(&keyword) => {
                    known.push(low_nybbles(keyword, mask));
                    order.push(keyword);
                }
                None if round + 1 == rounds => {}
                None => {
                    // Every bucket has a keyword in round 0, so the first one is there to repeat.
                    let placed = followers
                        .iter()
                        .position(|k| known.contains(&low_nybbles(k, mask)));
                    order.push(placed.map_or(order[0], |at| followers.remove(at)));
                }
            }
        }
    }
    order.extend(followers);
    (order.len() <= MAX_PATTERNS).then(|| order.into_iter().map(<[u8]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the library puts each keyword given in `order` (the rule in the module's documentation).
    fn assigned(order: &[Vec<u8>], mask: usize) -> Vec<(Vec<u8>, usize)> {
        let mut home: HashMap<Vec<u8>, usize> = HashMap::new();
        order
            .iter()
            .enumerate()
            .map(|(index, keyword)| {
                let bucket = *home
                    .entry(low_nybbles(keyword, mask))
                    .or_insert(BUCKETS - 1 - index % BUCKETS);
                (keyword.clone(), bucket)
            })
            .collect()
    }

    /// The one bucket every keyword of `bucket` landed in (each given at least once).
    fn one_home(landed: &[(Vec<u8>, usize)], bucket: &[&[u8]]) -> usize {
        let homes: Vec<usize> = landed
            .iter()
            .filter(|(k, _)| bucket.contains(&k.as_slice()))
            .map(|(_, home)| *home)
            .collect();
        let given = |k: &&[u8]| landed.iter().any(|(w, _)| w.as_slice() == *k);
        assert!(bucket.iter().all(given), "{bucket:?} not all given");
        assert!(
            homes.windows(2).all(|w| w[0] == w[1]),
            "{bucket:?} split: {homes:?}"
        );
        homes[0]
    }

    fn keywords(words: &str) -> Vec<Vec<u8>> {
        words.split(' ').map(|w| w.as_bytes().to_vec()).collect()
    }

    /// The default rules' keywords and then some: prefixes shared, nybbles shared by unlike bytes.
    const MANY: &str = "akia asia abia acca aws ghp_ gho_ ghu_ ghs_ ghr_ github_pat_ glpat- gldt- glptt- \
        glrt- xoxa- xoxb- xoxe- xapp- hooks.slack.com sk_live_ sk_test_ rk_live_ aiza gocspx- -----begin eyj \
        npm_ accountkey= sg. t3blbkfj :// key secret token passw pwd credential";

    #[test]
    fn the_library_puts_every_keyword_in_the_bucket_planned_for_it() {
        let all = keywords(MANY);
        let mask = 3;
        let plan = plan(&all, mask).unwrap();
        let order = teddy_order(&all).unwrap();
        assert!(order.len() <= MAX_PATTERNS);
        let landed = assigned(&order, mask);
        // Every keyword is searched; the planned buckets come out whole, each in one bucket of its own.
        for keyword in &all {
            assert!(order.contains(keyword), "{keyword:?}");
        }
        let mut used = Vec::new();
        for bucket in &plan {
            let home = one_home(&landed, bucket);
            assert!(!used.contains(&home), "{bucket:?} shares bucket {home}");
            used.push(home);
        }
        // Keywords that share a prefix stay together.
        let home = |k: &str| {
            landed
                .iter()
                .find(|(w, _)| w == k.as_bytes())
                .map(|(_, h)| *h)
        };
        assert_eq!(home("sk_live_"), home("sk_test_"));
        assert_eq!(home("xoxa-"), home("xoxb-"));
    }

    #[test]
    fn a_keyword_whose_bucket_is_not_known_yet_is_never_given_early() {
        // Sixteen buckets of one keyword each (low nybble of the first byte 0 to 15), the first with two more
        // and a keyword sharing the nybbles of its last: round 1 needs places filled before that one is given
        // (with the first keyword again, which joins its own bucket).
        let words: Vec<Vec<u8>> = (0..16u8).map(|n| vec![0x60 + n, b'q', b'q']).collect();
        let extra: Vec<Vec<u8>> = vec![b"`r1".to_vec(), b"`s2".to_vec(), b"`s2z".to_vec()];
        let mut buckets: Vec<Vec<&[u8]>> = words.iter().map(|w| vec![w.as_slice()]).collect();
        buckets[0].extend(extra.iter().map(Vec::as_slice));
        let order = layout(&buckets, 3).unwrap();
        let landed = assigned(&order, 3);
        for bucket in &buckets {
            one_home(&landed, bucket);
        }
    }

    #[test]
    fn the_plan_admits_less_text_than_the_order_the_rules_give() {
        let all = keywords(MANY);
        let shares = Shares::new();
        let total = |buckets: &[Vec<&[u8]>]| buckets.iter().map(|b| shares.cost(b, 3)).sum::<f64>();
        let mut given: Vec<Vec<&[u8]>> = vec![Vec::new(); BUCKETS];
        for (keyword, home) in assigned(&all, 3) {
            let at = all.iter().position(|k| *k == keyword).unwrap();
            given[home].push(all[at].as_slice());
        }
        let planned = plan(&all, 3).unwrap();
        assert!(
            total(&planned) * 2.0 < total(&given),
            "{} vs {}",
            total(&planned),
            total(&given)
        );
    }

    #[test]
    fn too_few_or_too_short_keywords_get_no_plan() {
        assert_eq!(teddy_order(&keywords("key aws :// token")), None);
        assert_eq!(teddy_order(&keywords(&format!("{MANY} sk"))), None);
        assert_eq!(teddy_order(&[]), None);
    }
}
