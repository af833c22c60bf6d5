//! UDP forwarding for one frontend, on one worker (so a client's datagrams always meet the
//! same flow table): a flow per client address, each with its own connected upstream
//! socket to the chosen backend (bound to the client's IP, [`super::upstream`]); replies
//! from the backend go back to the client from the frontend address. A flow expires after
//! the rule's idle timeout, or when its backend is removed.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::frontend::{BackendRt, FrontendRt};
use super::upstream;
use crate::runtime::probe::HealthView;

/// Largest datagram handled.
const MAX_DATAGRAM: usize = 65536;

struct UdpFlow {
    upstream: UdpSocket,
    backend: Arc<BackendRt>,
    last: Cell<Instant>,
}

type Flows = Rc<RefCell<HashMap<SocketAddr, Rc<UdpFlow>>>>;

/// Serves the frontend until it is retired.
pub async fn serve(fe: Arc<FrontendRt>, socket: std::net::UdpSocket, health: HealthView) {
    let socket = match UdpSocket::from_std(socket) {
        Ok(s) => Rc::new(s),
        Err(e) => {
            tracing::warn!(frontend = %fe.key, "registering UDP socket: {e}");
            return;
        }
    };
    let flows: Flows = Rc::new(RefCell::new(HashMap::new()));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            _ = fe.cancel.cancelled() => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let Ok((n, client)) = received else { continue };
        let existing = flows.borrow().get(&client).cloned();
        let flow = match existing {
            Some(f) if !f.backend.cancel.is_cancelled() => f,
            _ => match open_flow(&fe, client, &health, &socket, &flows).await {
                Some(f) => f,
                None => continue, // no backend: the datagram is dropped
            },
        };
        flow.last.set(Instant::now());
        if flow.upstream.send(&buf[..n]).await.is_ok() {
            fe.counters.inbound(n, 1);
            flow.backend.counters.inbound(n, 1);
        }
    }
}

async fn open_flow(
    fe: &Arc<FrontendRt>,
    client: SocketAddr,
    health: &HealthView,
    socket: &Rc<UdpSocket>,
    flows: &Flows,
) -> Option<Rc<UdpFlow>> {
    let rule = fe.rule.load_full();
    let backend = fe.choose(&rule, client, &health.load())?;
    if backend.fault.drop_new {
        // An injected fault: the backend's new flows are dropped.
        return None;
    }
    let upstream = upstream::connect_udp(client.ip(), backend.addr)
        .await
        .ok()?;
    let flow = Rc::new(UdpFlow {
        upstream,
        backend,
        last: Cell::new(Instant::now()),
    });
    flows.borrow_mut().insert(client, flow.clone());
    tokio::task::spawn_local(replies(
        fe.clone(),
        flow.clone(),
        client,
        socket.clone(),
        flows.clone(),
        rule.idle_real,
    ));
    Some(flow)
}

/// Relays the backend's datagrams to the client until the flow idles out or its backend
/// goes; then forgets the flow.
async fn replies(
    fe: Arc<FrontendRt>,
    flow: Rc<UdpFlow>,
    client: SocketAddr,
    socket: Rc<UdpSocket>,
    flows: Flows,
    idle: Duration,
) {
    fe.counters.flow_opened();
    flow.backend.counters.flow_opened();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let deadline = flow.last.get() + idle;
        let got = tokio::select! {
            _ = flow.backend.cancel.cancelled() => break,
            _ = tokio::time::sleep_until(deadline) => {
                if flow.last.get() + idle <= Instant::now() { break } else { continue }
            }
            r = flow.upstream.recv(&mut buf) => r,
        };
        let Ok(n) = got else { continue };
        flow.last.set(Instant::now());
        if socket.send_to(&buf[..n], client).await.is_ok() {
            fe.counters.outbound(n, 1);
            flow.backend.counters.outbound(n, 1);
        }
    }
    let mut map = flows.borrow_mut();
    if map.get(&client).is_some_and(|f| Rc::ptr_eq(f, &flow)) {
        map.remove(&client);
    }
    fe.counters.flow_closed();
    flow.backend.counters.flow_closed();
}
