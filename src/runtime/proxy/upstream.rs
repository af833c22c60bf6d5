//! The proxy's sockets towards backends keep the client's address, as behind Azure's
//! pass-through load balancer (the backend sees the client's IP, not the load balancer's):
//! each upstream socket is bound to the client's source IP before it connects. Every
//! address of 127.0.0.0/8 is local on Linux, so this needs no privilege (no `IP_TRANSPARENT`).
//!
//! What remains different from Azure: the source *port* is the proxy's own ephemeral port,
//! not the client's (the client's socket holds that port on that address). When the bind
//! fails (a client address that is not local to this host, another address family, or no
//! ephemeral port left on that address) the socket connects from the default source, as
//! before.

use std::io::{self, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use nix::sys::socket::setsockopt;
use nix::sys::socket::sockopt::IpBindAddressNoPort;
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// The address an upstream socket towards `backend` binds to for a flow from `client`:
/// the client's IP with an ephemeral port, when both are of one family.
pub fn source_for(client: IpAddr, backend: SocketAddr) -> Option<SocketAddr> {
    let ip = match (client, backend) {
        (IpAddr::V4(ip), SocketAddr::V4(_)) => IpAddr::V4(ip),
        (IpAddr::V6(ip), SocketAddr::V6(_)) => match ip.to_ipv4_mapped() {
            // An IPv4 client on a dual-stack socket towards an IPv6 backend keeps the default.
            Some(_) => return None,
            None => IpAddr::V6(ip),
        },
        (IpAddr::V6(ip), SocketAddr::V4(_)) => IpAddr::V4(ip.to_ipv4_mapped()?),
        (IpAddr::V4(_), SocketAddr::V6(_)) => return None,
    };
    if ip.is_unspecified() {
        return None;
    }
    Some(SocketAddr::new(ip, 0))
}

/// A TCP connection to `backend` from `client`'s IP when possible, else from the default
/// source. TCP_NODELAY is set before connecting.
pub async fn connect_tcp(client: IpAddr, backend: SocketAddr) -> io::Result<TcpStream> {
    if let Some(source) = source_for(client, backend) {
        match bound_tcp(source, backend) {
            Ok(socket) => match socket.connect(backend).await {
                // No port left for this 4-tuple on the client's address: use the default.
                Err(e) if e.kind() == ErrorKind::AddrNotAvailable => {
                    tracing::debug!(%source, "upstream connect from the client's address: {e}")
                }
                r => return r,
            },
            Err(e) => tracing::debug!(%source, "binding upstream to the client's address: {e}"),
        }
    }
    new_tcp(backend)?.connect(backend).await
}

/// A TCP socket towards `backend` bound to `source`'s address. Its port is chosen at connect
/// time, unique per 4-tuple as for an unbound socket (`IP_BIND_ADDRESS_NO_PORT`), so a busy
/// client address does not run out of the ports a plain bind(…:0) would hold.
fn bound_tcp(source: SocketAddr, backend: SocketAddr) -> io::Result<TcpSocket> {
    let socket = new_tcp(backend)?;
    if let Err(e) = setsockopt(&socket, IpBindAddressNoPort, &true) {
        tracing::debug!("IP_BIND_ADDRESS_NO_PORT: {e}");
    }
    socket.bind(source)?;
    Ok(socket)
}

fn new_tcp(backend: SocketAddr) -> io::Result<TcpSocket> {
    let socket = if backend.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_nodelay(true)?;
    Ok(socket)
}

/// A UDP socket connected to `backend`, bound to `client`'s IP when possible.
pub async fn connect_udp(client: IpAddr, backend: SocketAddr) -> io::Result<UdpSocket> {
    if let Some(source) = source_for(client, backend) {
        match UdpSocket::bind(source).await {
            Ok(s) => {
                s.connect(backend).await?;
                return Ok(s);
            }
            Err(e) => tracing::debug!(%source, "binding upstream to the client's address: {e}"),
        }
    }
    let any: SocketAddr = if backend.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(any).await?;
    s.connect(backend).await?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn the_source_is_the_clients_ip_of_the_backends_family() {
        let backend4: SocketAddr = "127.0.0.9:80".parse().unwrap();
        let backend6: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(
            source_for(v4(127, 0, 0, 7), backend4),
            Some("127.0.0.7:0".parse().unwrap())
        );
        let mapped: IpAddr = "::ffff:127.0.0.7".parse().unwrap();
        assert_eq!(
            source_for(mapped, backend4),
            Some("127.0.0.7:0".parse().unwrap())
        );
        assert_eq!(
            source_for("::1".parse().unwrap(), backend6),
            Some("[::1]:0".parse().unwrap())
        );
        assert_eq!(source_for(v4(127, 0, 0, 7), backend6), None);
        assert_eq!(source_for("::1".parse().unwrap(), backend4), None);
        assert_eq!(source_for(v4(0, 0, 0, 0), backend4), None);
    }

    /// Accepts one connection on `listener` and returns the peer address it saw.
    async fn peer_of_next(listener: &tokio::net::TcpListener) -> SocketAddr {
        listener.accept().await.unwrap().1
    }

    #[tokio::test]
    async fn the_backend_sees_the_clients_ip_and_a_foreign_ip_falls_back() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend = listener.local_addr().unwrap();

        let _up = connect_tcp(v4(127, 0, 0, 42), backend).await.unwrap();
        assert_eq!(peer_of_next(&listener).await.ip(), v4(127, 0, 0, 42));

        // 192.0.2.1 (TEST-NET-1) is not an address of this host: the bind fails and the
        // connection is made from the default source instead of failing.
        let _up = connect_tcp(v4(192, 0, 2, 1), backend).await.unwrap();
        assert_eq!(peer_of_next(&listener).await.ip(), v4(127, 0, 0, 1));
    }

    #[test]
    fn a_bound_upstream_takes_its_port_at_connect_time() {
        let backend: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let socket = bound_tcp("127.0.0.44:0".parse().unwrap(), backend).unwrap();
        let local = socket.local_addr().unwrap();
        // The address is taken; no port is reserved until connect.
        assert_eq!((local.ip(), local.port()), (v4(127, 0, 0, 44), 0));
    }

    #[tokio::test]
    async fn udp_upstreams_keep_the_clients_ip_too() {
        let backend = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = backend.local_addr().unwrap();
        let mut buf = [0u8; 8];
        for (client, seen) in [
            (v4(127, 0, 0, 43), v4(127, 0, 0, 43)),
            (v4(192, 0, 2, 1), v4(127, 0, 0, 1)),
        ] {
            let up = connect_udp(client, addr).await.unwrap();
            up.send(b"x").await.unwrap();
            let (_, from) = backend.recv_from(&mut buf).await.unwrap();
            assert_eq!(from.ip(), seen);
        }
    }
}
