//! Where a port that Azure would use is really bound on this machine.
//!
//! Each instance NIC and each frontend IP has its own loopback address, so the ports the
//! user configured are used as they are, except privileged ports (below
//! `net.ipv4.ip_unprivileged_port_start`, usually 1024) when armlet may not bind them: those
//! move up by [`FALLBACK_OFFSET`] (80 → 10080, 443 → 10443, 22 → 10022). The API and the logs
//! report the port actually bound.

/// Added to a privileged port that cannot be bound.
pub const FALLBACK_OFFSET: u16 = 10000;

/// The port to bind for `port`, given whether privileged ports can be bound here.
pub fn effective_port(port: u16, privileged_ok: bool, unprivileged_start: u16) -> u16 {
    if port == 0 || privileged_ok || port >= unprivileged_start {
        port
    } else {
        port + FALLBACK_OFFSET
    }
}

/// The first port an unprivileged process may bind (from /proc; 1024 if unknown).
pub fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

/// Whether this process can bind privileged ports: tried once on a loopback address.
pub fn can_bind_privileged() -> bool {
    if unprivileged_port_start() == 0 {
        return true;
    }
    // Port 1 on a rarely used loopback address: a probe that needs the privilege and
    // (almost certainly) collides with nothing.
    std::net::TcpListener::bind(("127.255.255.254", 1)).is_ok()
}

/// The host's port rule, decided once.
#[derive(Debug, Clone, Copy)]
pub struct PortRule {
    pub privileged_ok: bool,
    pub unprivileged_start: u16,
}

impl PortRule {
    pub fn detect() -> Self {
        PortRule {
            privileged_ok: can_bind_privileged(),
            unprivileged_start: unprivileged_port_start(),
        }
    }

    pub fn effective(&self, port: u16) -> u16 {
        effective_port(port, self.privileged_ok, self.unprivileged_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_ports_move_up_only_when_needed() {
        assert_eq!(effective_port(80, false, 1024), 10080);
        assert_eq!(effective_port(22, false, 1024), 10022);
        assert_eq!(effective_port(80, true, 1024), 80);
        assert_eq!(effective_port(8080, false, 1024), 8080);
        assert_eq!(effective_port(80, false, 0), 80);
    }
}
