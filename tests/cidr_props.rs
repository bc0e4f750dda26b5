//! Properties of the set operations: collapse, exclude, subnets, summarize, round trips.
//!
//! Networks are drawn from a small corner of the address space (a /16 of IPv4, a /112 of
//! IPv6) so that random lists overlap, nest and touch.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netkit::cidr::{collapse_addresses, summarize_address_range, Address, IpNetwork};
use proptest::prelude::*;

fn v4_net() -> impl Strategy<Value = IpNetwork> {
    (0u32..=0xffff, 16u8..=32).prop_map(|(low, prefix)| {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | low));
        IpNetwork::new_truncating(addr, prefix).expect("prefix <= 32")
    })
}

fn v6_net() -> impl Strategy<Value = IpNetwork> {
    (0u128..=0xffff, 112u8..=128).prop_map(|(low, prefix)| {
        let addr = IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | low));
        IpNetwork::new_truncating(addr, prefix).expect("prefix <= 128")
    })
}

fn net_list() -> impl Strategy<Value = Vec<IpNetwork>> {
    prop_oneof![
        prop::collection::vec(v4_net(), 0..40),
        prop::collection::vec(v6_net(), 0..40)
    ]
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The address set of some networks as sorted, merged, inclusive intervals.
fn union(nets: &[IpNetwork]) -> Vec<(u128, u128)> {
    let mut r: Vec<(u128, u128)> = nets
        .iter()
        .map(|n| (bits(n.network_address()), bits(n.broadcast_address())))
        .collect();
    r.sort();
    let mut out: Vec<(u128, u128)> = Vec::new();
    for (s, e) in r {
        match out.last_mut() {
            Some((_, le)) if s <= le.saturating_add(1) => *le = (*le).max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn collapse_covers_exactly_the_union(nets in net_list()) {
        let out = collapse_addresses(nets.clone()).expect("one version");
        prop_assert_eq!(union(&out), union(&nets));
        // Sorted, disjoint, and no two neighbours could merge into their supernet.
        for w in out.windows(2) {
            prop_assert!(bits(w[0].broadcast_address()) < bits(w[1].network_address()));
            let mergeable = w[0].prefix_len() == w[1].prefix_len()
                && w[0].prefix_len() > 0
                && w[0].supernet_diff(1).ok() == w[1].supernet_diff(1).ok();
            prop_assert!(!mergeable, "{} and {} should have merged", w[0], w[1]);
        }
    }

    #[test]
    fn collapse_is_idempotent(nets in net_list()) {
        let once = collapse_addresses(nets).expect("one version");
        let twice = collapse_addresses(once.clone()).expect("one version");
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn collapse_ignores_order(nets in net_list().prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))) {
        let (a, b) = nets;
        prop_assert_eq!(collapse_addresses(a).expect("one version"), collapse_addresses(b).expect("one version"));
    }

    #[test]
    fn exclude_plus_excluded_is_the_original(outer in prop_oneof![v4_net(), v6_net()], pick in any::<u128>(), extra in 0u8..=16) {
        let max = outer.max_prefix_len();
        let p = (outer.prefix_len() + extra).min(max);
        let inner_addr = bits(outer.network_address()) | (pick & bits(outer.hostmask()));
        let inner_ip = match outer.version() {
            4 => IpAddr::V4(Ipv4Addr::from(inner_addr as u32)),
            _ => IpAddr::V6(Ipv6Addr::from(inner_addr)),
        };
        let inner = IpNetwork::new_truncating(inner_ip, p).expect("prefix fits");
        let parts: Vec<IpNetwork> = outer.address_exclude(&inner).expect("inside").collect();
        prop_assert_eq!(parts.len(), usize::from(p - outer.prefix_len()));
        for x in &parts {
            prop_assert!(!x.overlaps(&inner));
        }
        let mut all = parts.clone();
        all.push(inner);
        prop_assert_eq!(union(&all), union(std::slice::from_ref(&outer)));
        // Disjoint: the sizes add up.
        let total: u128 = all.iter().map(|n| n.num_addresses().get().expect("small")).sum();
        prop_assert_eq!(Some(total), outer.num_addresses().get());
        prop_assert_eq!(collapse_addresses(all).expect("one version"), vec![outer]);
    }

    #[test]
    fn subnets_cover_the_network(net in prop_oneof![v4_net(), v6_net()], diff in 0u32..=8) {
        let max = u32::from(net.max_prefix_len());
        let subs: Vec<IpNetwork> = net.subnets_diff(diff.min(max - u32::from(net.prefix_len()))).expect("fits").collect();
        if net.prefix_len() == net.max_prefix_len() {
            prop_assert_eq!(subs.clone(), vec![net.clone()]);
        } else {
            let d = diff.min(max - u32::from(net.prefix_len()));
            prop_assert_eq!(subs.len(), 1usize << d);
            for s in &subs {
                prop_assert_eq!(u32::from(s.prefix_len()), u32::from(net.prefix_len()) + d);
                prop_assert!(s.subnet_of(&net));
            }
        }
        prop_assert_eq!(collapse_addresses(subs).expect("one version"), vec![net]);
    }

    #[test]
    fn summarize_covers_exactly_the_range(a in 0u32..=0x1_0000, b in 0u32..=0x1_0000) {
        let (lo, hi) = (a.min(b) | 0x0a00_0000, a.max(b) | 0x0a00_0000);
        let nets: Vec<IpNetwork> =
            summarize_address_range(Ipv4Addr::from(lo).into(), Ipv4Addr::from(hi).into()).expect("ordered").collect();
        prop_assert_eq!(union(&nets), vec![(u128::from(lo), u128::from(hi))]);
        prop_assert_eq!(collapse_addresses(nets.clone()).expect("one version"), nets);
    }

    #[test]
    fn text_round_trips(net in prop_oneof![v4_net(), v6_net()], v6 in any::<u128>(), v4 in any::<u32>()) {
        let again: IpNetwork = net.to_string().parse().expect("own output parses");
        prop_assert_eq!(&again, &net);
        for ip in [IpAddr::V6(Ipv6Addr::from(v6)), IpAddr::V4(Ipv4Addr::from(v4))] {
            let a = Address::new(ip);
            let back: Address = a.to_string().parse().expect("own output parses");
            prop_assert_eq!(back.ip(), ip);
            // std::net prints the same text as Python 3.13 (RFC 5952 + IPv4-mapped).
            prop_assert_eq!(a.to_string(), ip.to_string());
        }
    }

    #[test]
    fn indexing_matches_iteration(net in prop_oneof![v4_net(), v6_net()], i in 0u128..300) {
        let n = net.num_addresses().get().expect("small");
        prop_assert_eq!(net.nth(i), net.iter().nth(i as usize));
        prop_assert_eq!(net.nth_back(i), net.iter().rev().nth(i as usize));
        prop_assert_eq!(net.nth(i).is_some(), i < n);
        let hosts = net.hosts().count() as u128;
        let expected = match (net.version(), net.max_prefix_len() - net.prefix_len()) {
            (_, 0) => 1,
            (_, 1) => 2,
            (4, _) => n - 2,
            _ => n - 1,
        };
        prop_assert_eq!(hosts, expected);
    }
}

#[test]
fn collapse_refuses_mixed_versions() {
    let nets: Vec<IpNetwork> = vec![
        "10.0.0.0/8".parse().unwrap(),
        "2001:db8::/32".parse().unwrap(),
    ];
    let err = collapse_addresses(nets).unwrap_err();
    assert_eq!(
        err.to_string(),
        "2001:db8::/32 and 10.0.0.0/8 are not of the same version"
    );
}

#[test]
fn whole_address_spaces() {
    let all6: IpNetwork = "::/0".parse().unwrap();
    assert_eq!(
        all6.nth_back(0).unwrap().to_string(),
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    );
    assert_eq!(all6.nth_back(u128::MAX).unwrap().to_string(), "::");
    assert_eq!(
        all6.subnets(1)
            .unwrap()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
        ["::/1", "8000::/1"]
    );
    assert_eq!(all6.subnets(0).unwrap().count(), 1);
    let r: Vec<String> = summarize_address_range(
        "::".parse().unwrap(),
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
    )
    .unwrap()
    .map(|n| n.to_string())
    .collect();
    assert_eq!(r, ["::/0"]);
    let all4: Vec<IpNetwork> = vec!["0.0.0.0/1".parse().unwrap(), "128.0.0.0/1".parse().unwrap()];
    assert_eq!(
        collapse_addresses(all4).unwrap()[0].to_string(),
        "0.0.0.0/0"
    );
    let top: Vec<IpNetwork> = vec![
        "255.255.255.255/32".parse().unwrap(),
        "255.255.255.254/32".parse().unwrap(),
    ];
    assert_eq!(
        collapse_addresses(top).unwrap()[0].to_string(),
        "255.255.255.254/31"
    );
}
