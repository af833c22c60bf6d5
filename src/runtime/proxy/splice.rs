//! Zero-copy forwarding for bulk flows (Linux `splice(2)` through a pipe), used by
//! [`super::tcp`] once a direction has moved [`BULK_THRESHOLD`] bytes: socket → pipe →
//! socket moves page references instead of copying the payload through user space.
//!
//! Small request/response flows never get here, so they pay for no pipe.

use std::cell::Cell;
use std::io::{self, ErrorKind};
use std::os::fd::OwnedFd;

use rustix::pipe::{PipeFlags, SpliceFlags, fcntl_setpipe_size, pipe_with, splice};
use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bytes a direction moves by copying before it switches to splicing.
pub const BULK_THRESHOLD: u64 = 1024 * 1024;

/// Requested pipe capacity (the kernel may round or refuse; its answer is used).
const PIPE_SIZE: usize = 512 * 1024;

/// A pipe for one direction of one flow.
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

impl Pipe {
    pub fn new() -> io::Result<Pipe> {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        // A bigger pipe means fewer splices per byte; the default is 64 KiB.
        let capacity = fcntl_setpipe_size(&write, PIPE_SIZE).unwrap_or(64 * 1024);
        Ok(Pipe {
            read,
            write,
            capacity,
        })
    }
}

const FLAGS: SpliceFlags = SpliceFlags::MOVE.union(SpliceFlags::NONBLOCK);

/// Forwards `src` → `dst` through `pipe` until EOF (then shuts down writing on `dst`) or
/// an error. Same contract as the copying pump.
pub async fn pump(
    src: &TcpStream,
    dst: &TcpStream,
    pipe: Pipe,
    last: &Cell<Instant>,
    count: impl Fn(usize),
) -> io::Result<()> {
    loop {
        src.readable().await?;
        let moved = src.try_io(Interest::READABLE, || {
            splice(src, None, &pipe.write, None, pipe.capacity, FLAGS).map_err(io::Error::from)
        });
        let n = match moved {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return SockRef::from(dst).shutdown(std::net::Shutdown::Write);
        }
        count(n);
        last.set(Instant::now());
        let mut left = n;
        while left > 0 {
            let sent = dst.try_io(Interest::WRITABLE, || {
                splice(&pipe.read, None, dst, None, left, FLAGS).map_err(io::Error::from)
            });
            match sent {
                Ok(w) => {
                    left -= w;
                    last.set(Instant::now());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => dst.writable().await?,
                Err(e) => return Err(e),
            }
        }
    }
}
