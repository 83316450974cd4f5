//! The client's address for throttling: the socket's peer, or, when that peer is a trusted
//! proxy (`server.trusted_proxies`), the address it reports in `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The address failed logins are counted against.
///
/// `X-Forwarded-For` is read only when the socket's peer is trusted, and then from the right:
/// each proxy appends the address it received from, so the rightmost entry not belonging to a
/// trusted proxy is the first one an attacker could not forge. Anything to its left is ignored.
/// A malformed entry ends the walk at the last address known to be good. The entries are split
/// on commas by hand (the header has no richer grammar) and parsed with the standard library.
pub(crate) fn client_address(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let mut hops = Vec::new();
    for value in req.headers().get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return Some(peer);
        };
        hops.extend(text.split(',').map(str::trim));
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(ip, trusted) {
            break;
        }
    }
    Some(client)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// An address, optionally with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn addr(peer: &str, xff: &[&str], trusted: &[&str]) -> String {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        for v in xff {
            req = req.append_header(("X-Forwarded-For", *v));
        }
        client_address(&req.to_http_request(), &nets(trusted))
            .unwrap()
            .to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(
            addr("203.0.113.9:5000", &["198.51.100.1"], &[]),
            "203.0.113.9"
        );
        assert_eq!(
            addr("203.0.113.9:5000", &["198.51.100.1"], &["10.0.0.0/8"]),
            "203.0.113.9"
        );
    }

    #[test]
    fn a_trusted_peer_names_the_rightmost_untrusted_hop() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(
            addr("10.0.0.2:1", &["198.51.100.1"], &trusted),
            "198.51.100.1"
        );
        // The client forged the leftmost entry; the proxies appended the real ones.
        assert_eq!(
            addr("10.0.0.2:1", &["6.6.6.6, 198.51.100.1, 10.0.0.7"], &trusted),
            "198.51.100.1"
        );
        assert_eq!(
            addr("10.0.0.2:1", &["6.6.6.6", "198.51.100.1:443"], &trusted),
            "198.51.100.1"
        );
    }

    #[test]
    fn garbage_or_no_header_from_a_trusted_peer_stops_at_the_last_good_hop() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(addr("10.0.0.2:1", &[], &trusted), "10.0.0.2");
        assert_eq!(addr("10.0.0.2:1", &["nonsense"], &trusted), "10.0.0.2");
        assert_eq!(
            addr("10.0.0.2:1", &["198.51.100.1, junk, 10.0.0.3"], &trusted),
            "10.0.0.3"
        );
    }
}
