//! Loads gitleaks-format TOML into a compiled [`RuleSet`]; rules that cannot be used are reported, not dropped silently.

use std::collections::{HashMap, HashSet};

use regex::bytes::Regex;
use regex_automata::meta;
use serde::Serialize;

use crate::allowlist::Allowlist;
use crate::anchor::{self, Anchor};
use crate::error::{Result, SecretsError};
use crate::go_regex;
use crate::keywords::Keywords;
use crate::toml_format::{RawAllowlist, RawRule};

/// Certus's own default rules, embedded at build time.
/// The text of Certus's own rule set (gitleaks format), embedded in the binary.
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

/// A rule (or file-level entry) that could not be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleError {
    /// The rule id, or a placeholder such as `rules[3]` when the rule has none.
    pub rule_id: String,
    /// Human-readable reason.
    pub reason: String,
}

/// One compiled detection rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) regex: Option<meta::Regex>,
    pub(crate) pattern: Option<String>,
    /// What is proven about the matches and the keywords: where the regex needs to run.
    pub(crate) anchor: Anchor,
    /// Capture group holding the secret; 0 means "first non-empty group, else the whole match".
    pub(crate) secret_group: usize,
    pub(crate) entropy: Option<f64>,
    /// Indexes of its keywords among the rule set's distinct ones ([`RuleSet::prefilter`]); empty means the rule
    /// always runs.
    pub(crate) keywords: Vec<usize>,
    pub(crate) path: Option<Regex>,
    pub(crate) tags: Vec<String>,
    pub(crate) allowlists: Vec<Allowlist>,
    /// Never reported on its own, only as a required part of a composite rule.
    pub(crate) skip_report: bool,
    /// Composite rule: each of these rules must match near a match of this one.
    pub(crate) required: Vec<Required>,
}

/// One required part of a composite rule.
#[derive(Debug, Clone)]
pub(crate) struct Required {
    /// The required rule's id until resolved, then unused.
    id: String,
    /// Index of the required rule in [`RuleSet::rules`].
    pub(crate) rule: usize,
    /// Largest distance in lines between the starts of both matches, if limited.
    pub(crate) within_lines: Option<u64>,
    /// Largest distance in columns between the starts of both matches, if limited.
    pub(crate) within_columns: Option<u64>,
}

/// A compiled set of rules plus global allowlists and the keyword prefilter.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) global_allowlists: Vec<Allowlist>,
    /// Every distinct keyword, ASCII case ignored (none when no rule has keywords).
    pub(crate) prefilter: Option<Keywords>,
    pub(crate) keyword_count: usize,
    #[cfg(test)]
    keywords: Vec<String>,
    errors: Vec<RuleError>,
}

impl RuleSet {
    /// Parses a gitleaks TOML rule file. Fails only when the file itself is unusable (bad TOML, bad
    /// layout, bad global allowlist); individual bad rules are listed in [`RuleSet::rule_errors`].
    pub fn from_gitleaks_toml(text: &str) -> Result<RuleSet> {
        let table: toml::Table = toml::from_str(text)?;
        let mut errors = Vec::new();
        if table.contains_key("extend") {
            errors.push(RuleError {
                rule_id: "[extend]".to_string(),
                reason: "extending another rule file is not supported; only this file's rules are loaded"
                    .to_string(),
            });
        }
        let mut global_allowlists = Vec::new();
        let mut targeted: Vec<(Vec<String>, RawAllowlist)> = Vec::new();
        for (index, raw) in raw_global_allowlists(&table)?.into_iter().enumerate() {
            if raw.target_rules.is_empty() {
                global_allowlists.push(compile_global(index, &raw)?);
            } else {
                compile_global(index, &raw)?;
                targeted.push((raw.target_rules.clone(), raw));
            }
        }

        let mut keyword_ids: HashMap<String, usize> = HashMap::new();
        let mut seen_ids: HashSet<String> = HashSet::new();
        let mut rules = Vec::new();
        for (index, value) in rule_values(&table)?.iter().enumerate() {
            match build_rule(index, value, &targeted, &mut keyword_ids) {
                Ok(rule) if !seen_ids.insert(rule.id.clone()) => errors.push(RuleError {
                    rule_id: rule.id,
                    reason: "duplicate rule id; the first definition is kept".to_string(),
                }),
                Ok(rule) => rules.push(rule),
                Err(error) => errors.push(error),
            }
        }

        resolve_required(&mut rules, &mut errors);

        let mut keywords: Vec<(String, usize)> = keyword_ids.into_iter().collect();
        keywords.sort_by_key(|(_, id)| *id);
        let prefilter = if keywords.is_empty() {
            None
        } else {
            let patterns: Vec<&str> = keywords.iter().map(|(k, _)| k.as_str()).collect();
            Some(Keywords::new(&patterns).map_err(|e| {
                SecretsError::InvalidLayout(format!("keywords cannot be indexed: {e}"))
            })?)
        };
        Ok(RuleSet {
            rules,
            global_allowlists,
            prefilter,
            keyword_count: keywords.len(),
            #[cfg(test)]
            keywords: keywords.into_iter().map(|(k, _)| k).collect(),
            errors,
        })
    }

    /// Certus's own rule set (`rules/default.toml`, embedded in the binary).
    pub fn default_rules() -> Result<RuleSet> {
        Self::from_gitleaks_toml(DEFAULT_RULES)
    }

    /// Number of rules that compiled.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule compiled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Ids of the compiled rules, in file order.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.id.as_str()).collect()
    }

    /// `(rule id, pattern as compiled)` for every rule with a content regex (e.g. to feed another tool).
    pub fn patterns(&self) -> Vec<(&str, &str)> {
        self.rules
            .iter()
            .filter_map(|r| r.pattern.as_deref().map(|p| (r.id.as_str(), p)))
            .collect()
    }

    /// The distinct keywords (lowercase), by index.
    #[cfg(test)]
    pub(crate) fn keywords(&self) -> &[String] {
        &self.keywords
    }

    /// Rules (and file-level entries) that could not be loaded.
    pub fn rule_errors(&self) -> &[RuleError] {
        &self.errors
    }
}

fn compile_global(index: usize, raw: &RawAllowlist) -> Result<Allowlist> {
    Allowlist::compile(raw).map_err(|reason| SecretsError::InvalidGlobalAllowlist { index, reason })
}

/// The old `[allowlist]` table followed by the `[[allowlists]]` array.
fn raw_global_allowlists(table: &toml::Table) -> Result<Vec<RawAllowlist>> {
    let mut values = Vec::new();
    if let Some(single) = table.get("allowlist") {
        values.push(single.clone());
    }
    match table.get("allowlists") {
        None => {}
        Some(toml::Value::Array(items)) => values.extend(items.iter().cloned()),
        Some(_) => {
            return Err(SecretsError::InvalidLayout(
                "`allowlists` must be an array of tables".to_string(),
            ))
        }
    }
    values
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            value
                .try_into()
                .map_err(|e: toml::de::Error| SecretsError::InvalidGlobalAllowlist {
                    index,
                    reason: e.message().to_string(),
                })
        })
        .collect()
}

fn rule_values(table: &toml::Table) -> Result<&[toml::Value]> {
    match table.get("rules") {
        None => Ok(&[]),
        Some(toml::Value::Array(items)) => Ok(items),
        Some(_) => Err(SecretsError::InvalidLayout(
            "`rules` must be an array of tables ([[rules]])".to_string(),
        )),
    }
}

fn build_rule(
    index: usize,
    value: &toml::Value,
    targeted: &[(Vec<String>, RawAllowlist)],
    keyword_ids: &mut HashMap<String, usize>,
) -> std::result::Result<Rule, RuleError> {
    let fallback_id = value
        .get("id")
        .and_then(toml::Value::as_str)
        .filter(|id| !id.is_empty())
        .map_or_else(|| format!("rules[{index}]"), str::to_string);
    let fail = |reason: String| RuleError {
        rule_id: fallback_id.clone(),
        reason,
    };
    let raw: RawRule = value
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| fail(format!("invalid rule table: {}", e.message())))?;
    let id = raw
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| fail("rule has no id".to_string()))?;
    if raw.regex.is_none() && raw.path.is_none() {
        return Err(fail("rule has neither regex nor path".to_string()));
    }
    let compiled = raw
        .regex
        .as_deref()
        .map(go_regex::compile_rule)
        .transpose()
        .map_err(|e| fail(format!("regex does not compile: {e}")))?;
    let path = raw
        .path
        .as_deref()
        .map(go_regex::compile)
        .transpose()
        .map_err(|e| fail(format!("path regex does not compile: {e}")))?;
    let secret_group =
        secret_group(&raw, compiled.as_ref().map(|(regex, _, _)| regex)).map_err(fail)?;
    let entropy = match raw.entropy.map(|n| n.as_f64()) {
        Some(e) if !e.is_finite() || e < 0.0 => {
            return Err(fail(format!("entropy {e} is not a non-negative number")))
        }
        Some(e) if e > 0.0 => Some(e),
        _ => None,
    };
    let required = raw
        .required
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let distance = |field: &str, value: Option<i64>| {
                value
                    .map(|v| {
                        u64::try_from(v)
                            .map_err(|_| fail(format!("required #{n}: {field} {v} is negative")))
                    })
                    .transpose()
            };
            Ok(Required {
                id: r
                    .id
                    .clone()
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| fail(format!("required #{n} has no id")))?,
                rule: usize::MAX,
                within_lines: distance("withinLines", r.within_lines)?,
                within_columns: distance("withinColumns", r.within_columns)?,
            })
        })
        .collect::<std::result::Result<Vec<_>, RuleError>>()?;
    let mut allowlists = Vec::new();
    let own = raw.allowlist.iter().chain(raw.allowlists.iter());
    let extra = targeted
        .iter()
        .filter(|(targets, _)| targets.contains(&id))
        .map(|(_, a)| a);
    for (n, a) in own.chain(extra).enumerate() {
        allowlists.push(Allowlist::compile(a).map_err(|e| fail(format!("allowlist #{n}: {e}")))?);
    }
    let lowercase: Vec<String> = raw
        .keywords
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
    let mut keywords: Vec<usize> = lowercase
        .iter()
        .map(|k| {
            let next = keyword_ids.len();
            *keyword_ids.entry(k.clone()).or_insert(next)
        })
        .collect();
    keywords.sort_unstable();
    keywords.dedup();
    let words: Vec<&str> = lowercase.iter().map(String::as_str).collect();
    let anchor = compiled
        .as_ref()
        .map_or(Anchor::None, |(_, hir, _)| anchor::anchor(hir, &words));

    let (regex, pattern) = match compiled {
        Some((regex, _, translated)) => (Some(regex), Some(translated)),
        None => (None, None),
    };
    Ok(Rule {
        pattern,
        anchor,
        id,
        description: raw.description,
        regex,
        secret_group,
        entropy,
        keywords,
        path,
        tags: raw.tags,
        allowlists,
        skip_report: raw.skip_report,
        required,
    })
}

/// Points each required part at its rule; drops (and reports) composite rules whose required rules
/// are missing, until every remaining one is complete.
fn resolve_required(rules: &mut Vec<Rule>, errors: &mut Vec<RuleError>) {
    loop {
        let ids: HashSet<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        let broken: Vec<(usize, String)> = rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.required
                    .iter()
                    .find(|req| !ids.contains(req.id.as_str()))
                    .map(|req| (i, req.id.clone()))
            })
            .collect();
        if broken.is_empty() {
            break;
        }
        for (i, missing) in broken.into_iter().rev() {
            let rule = rules.remove(i);
            errors.push(RuleError {
                rule_id: rule.id,
                reason: format!("required rule {missing:?} does not exist or could not be loaded"),
            });
        }
    }
    let index: HashMap<String, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    for rule in rules.iter_mut() {
        for req in &mut rule.required {
            if let Some(&i) = index.get(&req.id) {
                req.rule = i;
            }
        }
    }
}

fn secret_group(raw: &RawRule, regex: Option<&meta::Regex>) -> std::result::Result<usize, String> {
    let Some(group) = raw.secret_group else {
        return Ok(0);
    };
    let groups = regex.map_or(0, |r| r.captures_len().saturating_sub(1));
    match usize::try_from(group) {
        Ok(g) if g <= groups => Ok(g),
        _ => Err(format!(
            "secretGroup {group} does not exist (the regex has {groups} groups)"
        )),
    }
}
