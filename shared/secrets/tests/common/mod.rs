//! Helpers shared by the integration tests: a seeded generator of obviously fake secrets (built at
//! run time, so no secret-looking literal sits in the source) and the `../shared` locator.

#![allow(dead_code)]

use std::path::PathBuf;

pub const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const UPPER_ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const BASE32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub const HEX: &str = "0123456789abcdef";
pub const DIGITS: &str = "0123456789";
pub const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Deterministic xorshift generator for fake secrets.
pub struct Fake(u64);

impl Fake {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn string(&mut self, alphabet: &str, len: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..len)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                chars[(self.0 % chars.len() as u64) as usize]
            })
            .collect()
    }
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    let alphabet = B64.as_bytes();
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(bits >> (18 - 6 * i) & 63) as usize]));
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}

/// Lowercase hex.
pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every byte percent-encoded.
pub fn percent(data: &[u8]) -> String {
    data.iter().map(|b| format!("%{b:02X}")).collect()
}

/// One planted secret: the text of its line(s), the secret itself, and the rule ids expected on it.
pub struct Planted {
    pub text: String,
    pub secret: String,
    pub rules: Vec<&'static str>,
}

fn planted(text: String, secret: String, rules: &[&'static str]) -> Planted {
    Planted {
        text,
        secret,
        rules: rules.to_vec(),
    }
}

/// One fake secret per family of the default rules, with the default rule ids expected on its line.
pub fn default_families(fake: &mut Fake) -> Vec<Planted> {
    let mut out = Vec::new();
    let s = ["AK", "IA", &fake.string(BASE32, 16)].concat();
    out.push(planted(
        format!("aws_key_id: {s}"),
        s,
        &["aws-access-key-id"],
    ));
    let s = fake.string(B64, 40);
    out.push(planted(
        format!("aws_secret = \"{s}\""),
        s,
        &["aws-secret-access-key", "generic-secret-assignment"],
    ));
    let s = ["gh", "p_", &fake.string(ALNUM, 36)].concat();
    out.push(planted(format!("auth {s}"), s, &["github-token"]));
    let s = ["github", "_pat_", &fake.string(ALNUM, 82)].concat();
    out.push(planted(
        format!("pat {s}"),
        s,
        &["github-fine-grained-token"],
    ));
    let s = ["glp", "at-", &fake.string(ALNUM, 20)].concat();
    out.push(planted(format!("gitlab {s}"), s, &["gitlab-token"]));
    let s = [
        "xo",
        "xb-",
        &fake.string(DIGITS, 12),
        "-",
        &fake.string(DIGITS, 12),
        "-",
        &fake.string(ALNUM, 24),
    ]
    .concat();
    out.push(planted(format!("slack {s}"), s, &["slack-token"]));
    let s = [
        "https://hooks.",
        "slack.com/services/T",
        &fake.string(UPPER_ALNUM, 10),
        "/B",
        &fake.string(UPPER_ALNUM, 10),
        "/",
        &fake.string(ALNUM, 24),
    ]
    .concat();
    out.push(planted(format!("hook({s})"), s, &["slack-webhook-url"]));
    let s = ["sk", "_live_", &fake.string(ALNUM, 24)].concat();
    out.push(planted(format!("stripe {s}"), s, &["stripe-key"]));
    let s = ["AI", "za", &fake.string(B64URL, 35)].concat();
    out.push(planted(format!("maps {s};"), s, &["google-api-key"]));
    let s = ["GOC", "SPX-", &fake.string(B64URL, 28)].concat();
    out.push(planted(
        format!("oauth {s}"),
        s,
        &["google-oauth-client-secret"],
    ));
    let body: Vec<String> = (0..3).map(|_| fake.string(B64, 64)).collect();
    let s = [
        "-----BEGIN RSA ",
        "PRIVATE KEY-----\n",
        &body.join("\n"),
        "\n-----END RSA ",
        "PRIVATE KEY-----",
    ]
    .concat();
    out.push(planted(s.clone(), s, &["private-key"]));
    let s = [
        "ey",
        "J",
        &fake.string(ALNUM, 30),
        ".ey",
        "J",
        &fake.string(B64URL, 40),
        ".",
        &fake.string(B64URL, 43),
    ]
    .concat();
    out.push(planted(format!("bearer {s}"), s, &["jwt"]));
    let s = ["np", "m_", &fake.string(ALNUM, 36)].concat();
    out.push(planted(format!("registry {s}"), s, &["npm-token"]));
    let s = ["pypi-AgEI", "cHlwaS5vcmc", &fake.string(B64URL, 60)].concat();
    out.push(planted(format!("upload {s}"), s, &["pypi-token"]));
    let s = [&fake.string(B64, 86), "=="].concat();
    out.push(planted(
        format!(
            "conn DefaultEndpointsProtocol=https;AccountName=x;AccountKey={s};EndpointSuffix=x"
        ),
        s,
        &["azure-storage-account-key"],
    ));
    let s = [&fake.string(ALNUM, 3), "8", "Q~", &fake.string(ALNUM, 34)].concat();
    out.push(planted(
        format!("client {s}"),
        s,
        &["azure-ad-client-secret"],
    ));
    let s = ["S", "K", &fake.string(HEX, 32)].concat();
    out.push(planted(format!("twilio {s}"), s, &["twilio-api-key"]));
    let s = [
        "S",
        "G.",
        &fake.string(B64URL, 22),
        ".",
        &fake.string(B64URL, 43),
    ]
    .concat();
    out.push(planted(format!("mail {s}"), s, &["sendgrid-api-key"]));
    let s = [
        "sk-",
        "proj-",
        &fake.string(B64URL, 40),
        "T3Blbk",
        "FJ",
        &fake.string(B64URL, 40),
    ]
    .concat();
    out.push(planted(format!("ai {s}"), s, &["openai-api-key"]));
    let s = fake.string(ALNUM, 16);
    out.push(planted(
        format!("dsn postgres://app:{s}@db.internal:5432/app"),
        s,
        &["url-embedded-password"],
    ));
    let s = fake.string(ALNUM, 20);
    out.push(planted(
        format!("db_password = \"{s}\""),
        s,
        &["generic-secret-assignment"],
    ));
    out
}

/// Lays planted secrets out in a file, separated by harmless filler lines; returns the content and
/// the 1-based line of each planted item.
pub fn lay_out(planted: &[Planted]) -> (String, Vec<u64>) {
    let mut text = String::from("# fixture\nfn main() {}\n");
    let mut line = 3u64;
    let mut lines = Vec::new();
    for p in planted {
        lines.push(line);
        text.push_str(&p.text);
        text.push('\n');
        line += 1 + p.text.matches('\n').count() as u64;
        text.push_str("let x = compute(1, 2);\n");
        line += 1;
    }
    (text, lines)
}

/// `../shared` (or `$CERTUS_SHARED_DIR`), or `None` after the skip notice when absent.
pub fn shared_dir() -> Option<PathBuf> {
    certus_testkit::shared_dir("data/gitleaks/gitleaks.toml")
}
