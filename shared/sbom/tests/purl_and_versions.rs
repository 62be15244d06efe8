//! Package URL encoding and per-ecosystem version comparison edge cases.

use std::cmp::Ordering;

use certus_sbom::purl::{package_url, pep503_normalize};
use certus_sbom::version::compare;
use certus_sbom::Ecosystem;

#[test]
fn purls_follow_the_type_rules() {
    let cases = [
        (
            Ecosystem::Cargo,
            "serde_json",
            Some("1.0.0"),
            "pkg:cargo/serde_json@1.0.0",
        ),
        (
            Ecosystem::Npm,
            "@Babel/Core",
            Some("7.0.0-beta.1"),
            "pkg:npm/%40babel/core@7.0.0-beta.1",
        ),
        (Ecosystem::Npm, "lodash", None, "pkg:npm/lodash"),
        (
            Ecosystem::Pypi,
            "Typing_Extensions",
            Some("4.8.0"),
            "pkg:pypi/typing-extensions@4.8.0",
        ),
        (
            Ecosystem::Pypi,
            "zope.interface",
            Some("6.0"),
            "pkg:pypi/zope-interface@6.0",
        ),
        (
            Ecosystem::Pypi,
            "pkg",
            Some("1.0+local.1"),
            "pkg:pypi/pkg@1.0%2Blocal.1",
        ),
        (
            Ecosystem::Golang,
            "github.com/Azure/go-autorest",
            Some("v14.2.0+incompatible"),
            "pkg:golang/github.com/azure/go-autorest@v14.2.0%2Bincompatible",
        ),
        (
            Ecosystem::Golang,
            "golang.org/x/text",
            Some("v0.0.0-20170915032832-14c0d48ead0c"),
            "pkg:golang/golang.org/x/text@v0.0.0-20170915032832-14c0d48ead0c",
        ),
        (
            Ecosystem::Cargo,
            "odd name",
            Some("1.0.0 beta"),
            "pkg:cargo/odd%20name@1.0.0%20beta",
        ),
        (
            Ecosystem::Npm,
            "a#b?c@d",
            Some("1"),
            "pkg:npm/a%23b%3Fc%40d@1",
        ),
    ];
    for (ecosystem, name, version, expected) in cases {
        assert_eq!(package_url(ecosystem, name, version), expected, "{name}");
    }
}

#[test]
fn pep503_collapses_separator_runs() {
    assert_eq!(pep503_normalize("Foo.-_Bar__baz"), "foo-bar-baz");
    assert_eq!(pep503_normalize("  Django "), "django");
}

fn assert_ordered(ecosystem: Ecosystem, versions: &[&str]) {
    for pair in versions.windows(2) {
        assert_eq!(
            compare(ecosystem, pair[0], pair[1]),
            Some(Ordering::Less),
            "{} < {}",
            pair[0],
            pair[1]
        );
        assert_eq!(
            compare(ecosystem, pair[1], pair[0]),
            Some(Ordering::Greater)
        );
    }
}

#[test]
fn pep440_ordering_covers_pre_post_dev_epoch_and_local() {
    assert_ordered(
        Ecosystem::Pypi,
        &[
            "1.0.dev0",
            "1.0.dev5",
            "1.0a1.dev1",
            "1.0a1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0+local.2",
            "1.0.post1.dev1",
            "1.0.post1",
            "1.0.post2",
            "1.0.1",
            "1.1",
            "2.0",
            "1!0.1",
        ],
    );
    for (left, right) in [
        ("1.0", "1.0.0"),
        ("1.0RC1", "1.0rc1"),
        ("1.0-rc.1", "1.0rc1"),
        ("1.0alpha1", "1.0a1"),
        ("1.0c1", "1.0rc1"),
        ("1.0-1", "1.0.post1"),
        ("1.0.rev1", "1.0.post1"),
        ("v2.0", "2.0"),
        ("0!1.0", "1.0"),
        ("1.0a", "1.0a0"),
    ] {
        assert_eq!(
            compare(Ecosystem::Pypi, left, right),
            Some(Ordering::Equal),
            "{left} == {right}"
        );
    }
    assert_eq!(
        compare(Ecosystem::Pypi, "1.0+abc.5", "1.0+5"),
        Some(Ordering::Less),
        "text < number in local"
    );
    for invalid in ["", "abc", "1.0..0", "1.0-", "1.0+", "1.0 beta"] {
        assert_eq!(
            compare(Ecosystem::Pypi, invalid, "1.0"),
            None,
            "{invalid:?}"
        );
    }
}

#[test]
fn semver_ordering_for_cargo_npm_and_go() {
    assert_ordered(
        Ecosystem::Npm,
        &[
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
        ],
    );
    assert_ordered(
        Ecosystem::Golang,
        &[
            "v0.0.0-20170915032832-14c0d48ead0c",
            "v0.1.0",
            "v1.2.3",
            "v2.0.0+incompatible",
            "v10.0.0",
        ],
    );
    assert_eq!(
        compare(Ecosystem::Golang, "v1.2.3", "1.2.3"),
        Some(Ordering::Equal)
    );
    assert_eq!(
        compare(Ecosystem::Cargo, "1.2.3+build.5", "1.2.3"),
        Some(Ordering::Equal)
    );
    assert_eq!(
        compare(Ecosystem::Cargo, "1.2", "1.2.0"),
        Some(Ordering::Equal)
    );
    assert_eq!(compare(Ecosystem::Cargo, "not.a.version", "1.0.0"), None);
    assert_eq!(compare(Ecosystem::Npm, "1.2.3.4", "1.0.0"), None);
}
