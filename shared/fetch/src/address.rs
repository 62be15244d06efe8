//! Which IP addresses a fetch must never reach: loopback, link-local (incl. cloud metadata), private,
//! unspecified, multicast, CGNAT and reserved ranges, including IPv4 addresses embedded in IPv6 ones.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of non-public address `ip` is, or `None` when it is a public unicast address.
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, _, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("link-local (cloud metadata)")
    } else if a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("CGNAT (shared)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if a >= 240 {
        Some("reserved or broadcast")
    } else {
        None
    }
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if segments[0] & 0xffc0 == 0xfec0 || segments[0] & 0xfe00 == 0xfc00 {
        Some("private")
    } else if let Some(embedded) = embedded_v4(ip) {
        blocked_v4(embedded)
    } else {
        None
    }
}

/// IPv4 addresses carried inside IPv6 ones: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped_or_compatible = s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff);
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    if mapped_or_compatible || nat64 {
        Some(low)
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<&'static str> {
        blocked_reason(text.parse().unwrap())
    }

    #[test]
    fn blocks_every_non_public_range() {
        assert_eq!(reason("127.0.0.1"), Some("loopback"));
        assert_eq!(
            reason("169.254.169.254"),
            Some("link-local (cloud metadata)")
        );
        assert_eq!(reason("169.254.1.1"), Some("link-local"));
        assert_eq!(reason("10.0.0.1"), Some("private"));
        assert_eq!(reason("172.16.5.4"), Some("private"));
        assert_eq!(reason("172.31.255.255"), Some("private"));
        assert_eq!(reason("192.168.1.1"), Some("private"));
        assert_eq!(reason("0.0.0.0"), Some("unspecified"));
        assert_eq!(reason("224.0.0.1"), Some("multicast"));
        assert_eq!(reason("100.64.0.1"), Some("CGNAT (shared)"));
        assert_eq!(reason("100.127.255.255"), Some("CGNAT (shared)"));
        assert_eq!(reason("255.255.255.255"), Some("reserved or broadcast"));
        assert_eq!(reason("::1"), Some("loopback"));
        assert_eq!(reason("::"), Some("unspecified"));
        assert_eq!(reason("fe80::1"), Some("link-local"));
        assert_eq!(reason("fc00::1"), Some("private"));
        assert_eq!(reason("fd12:3456::1"), Some("private"));
        assert_eq!(reason("ff02::1"), Some("multicast"));
        assert_eq!(reason("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(
            reason("::ffff:169.254.169.254"),
            Some("link-local (cloud metadata)")
        );
        assert_eq!(reason("64:ff9b::a00:1"), Some("private"));
        assert_eq!(reason("2002:c0a8:0101::1"), Some("private"));
    }

    #[test]
    fn lets_public_addresses_through() {
        assert_eq!(reason("93.184.216.34"), None);
        assert_eq!(reason("172.32.0.1"), None);
        assert_eq!(reason("100.128.0.1"), None);
        assert_eq!(reason("2606:4700::1111"), None);
        assert_eq!(reason("::ffff:8.8.8.8"), None);
    }
}
