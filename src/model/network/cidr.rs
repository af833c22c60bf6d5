//! IPv4 prefixes (`10.0.0.0/24`): parsing as Azure requires it (no host bits set),
//! containment, overlap, and Azure's reserved addresses in a subnet.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 prefix in canonical form (no host bits set), e.g. `10.0.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: Ipv4Addr,
    prefix_len: u8,
}

/// Why a prefix was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// Not `a.b.c.d/n` with n in 0..=32 (IPv6 prefixes land here too).
    Malformed,
    /// Host bits are set; `canonical` is the prefix that was probably meant.
    HostBitsSet { canonical: Cidr },
}

impl Cidr {
    pub const fn new_unchecked(network: Ipv4Addr, prefix_len: u8) -> Cidr {
        Cidr {
            network,
            prefix_len,
        }
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    pub fn mask(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len)
        }
    }

    pub fn first(&self) -> u32 {
        u32::from(self.network)
    }

    pub fn last(&self) -> u32 {
        self.first() | !self.mask()
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.last())
    }

    /// Number of addresses, network and broadcast included.
    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix_len)
    }

    pub fn contains_addr(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.mask() == self.first()
    }

    /// Whether `other` lies entirely inside this prefix.
    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix_len >= self.prefix_len && self.contains_addr(other.network)
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The addresses Azure hands out in a subnet: from network + 4 to broadcast - 1.
    /// Empty for prefixes too small to have any (/30 and longer).
    pub fn azure_usable(&self) -> std::ops::RangeInclusive<u32> {
        if self.prefix_len > 29 {
            #[allow(clippy::reversed_empty_ranges)]
            return 1..=0;
        }
        self.first() + 4..=self.last() - 1
    }

    /// Whether Azure reserves `addr` in this subnet (network, .1–.3, broadcast).
    pub fn is_azure_reserved(&self, addr: Ipv4Addr) -> bool {
        self.contains_addr(addr) && !self.azure_usable().contains(&u32::from(addr))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_cidr(s)
    }
}

/// Parses `a.b.c.d/n`. Host bits must be clear, as Azure requires.
pub fn parse_cidr(s: &str) -> Result<Cidr, CidrError> {
    let (addr, len) = s.trim().split_once('/').ok_or(CidrError::Malformed)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| CidrError::Malformed)?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 2 {
        return Err(CidrError::Malformed);
    }
    let prefix_len: u8 = len.parse().map_err(|_| CidrError::Malformed)?;
    if prefix_len > 32 {
        return Err(CidrError::Malformed);
    }
    let canonical = Cidr::new_unchecked(addr, prefix_len);
    let canonical = Cidr::new_unchecked(
        Ipv4Addr::from(u32::from(addr) & canonical.mask()),
        prefix_len,
    );
    if canonical.network != addr {
        return Err(CidrError::HostBitsSet { canonical });
    }
    Ok(canonical)
}
