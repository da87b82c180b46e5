//! The request handler hickory-server calls for every DNS message: checks the question, reads the
//! answer from the store, and fits the response into what the transport allows (RFC 2181 §9: drop
//! the additional, then the authority section, and set TC only when the answer itself does not fit).

use super::lookup::{self, Outcome, Resolution};
use super::view::View;
use crate::store::{Store, StoreError};
use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::collections::HashSet;
use std::sync::Mutex;

/// The largest UDP payload localplane sends, whatever a client advertises (Route 53's limit).
const MAX_UDP_PAYLOAD: u16 = 4096;
/// The UDP payload every client accepts (RFC 1035 §4.2.1).
const MIN_UDP_PAYLOAD: u16 = 512;

/// Answers DNS questions for the namespaces of one view, from the store.
pub struct DnsHandler {
    store: Store,
    view: View,
    /// Same-apex zone pairs already warned about, so the log says it once.
    warned: Mutex<HashSet<(String, String)>>,
}

impl DnsHandler {
    /// A handler over `store` serving `view`.
    pub fn new(store: Store, view: View) -> Self {
        DnsHandler { store, view, warned: Mutex::new(HashSet::new()) }
    }

    fn warn_shadowed(&self, pairs: Vec<(String, String)>) {
        let Ok(mut warned) = self.warned.lock() else { return };
        for (chosen, hidden) in pairs {
            if warned.insert((chosen.clone(), hidden.clone())) {
                tracing::warn!(
                    answering = %chosen,
                    ignored = %hidden,
                    view = %self.view.describe(),
                    "two DNS namespaces seen by this DNS listener have the same name; only one answers (private before public, then the oldest). To query the other, add a [[dns_listeners]] entry whose account, region or vpc selects it"
                );
            }
        }
    }

    async fn lookup(&self, qname: Name, qtype: RecordType) -> Result<lookup::Lookup, StoreError> {
        let view = self.view.clone();
        self.store.read(move |tx| lookup::resolve(tx, &view, &qname, qtype, &mut rand::thread_rng())).await
    }
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, response_handle: R) -> ResponseInfo {
        let edns = request.edns.as_ref().map(|_| {
            let mut e = Edns::new();
            e.set_max_payload(MAX_UDP_PAYLOAD);
            e
        });
        let mut meta = Metadata::response_from_request(&request.metadata);
        let error = |code: ResponseCode| (code, Resolution::default(), false);
        let (rcode, resolution, authoritative) = if request.metadata.op_code != OpCode::Query {
            error(ResponseCode::NotImp)
        } else if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            error(ResponseCode::BADVERS)
        } else {
            match request.request_info() {
                // Not exactly one question.
                Err(_) => error(ResponseCode::FormErr),
                Ok(info) => {
                    let query = info.query.original();
                    let qtype = query.query_type();
                    if query.query_class() != DNSClass::IN || matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
                        error(ResponseCode::Refused)
                    } else {
                        match self.lookup(query.name().clone(), qtype).await {
                            Ok(found) => {
                                self.warn_shadowed(found.shadowed);
                                match found.outcome {
                                    Outcome::Refused => error(ResponseCode::Refused),
                                    Outcome::ServFail(reason) => {
                                        tracing::debug!(name = %query.name(), %reason, "DNS answer is SERVFAIL");
                                        error(ResponseCode::ServFail)
                                    }
                                    Outcome::Answer(r) => (r.rcode, r, true),
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, name = %query.name(), "reading the store for a DNS answer failed; answering SERVFAIL (check the store backend)");
                                error(ResponseCode::ServFail)
                            }
                        }
                    }
                }
            }
        };
        meta.response_code = rcode;
        meta.authoritative = authoritative;
        metrics::counter!("localplane_dns_queries_total", "rcode" => rcode.to_str()).increment(1);
        send(request, response_handle, meta, edns.as_ref(), resolution).await
    }
}

/// Fits the resolution into the transport's size and sends it.
async fn send<R: ResponseHandler>(
    request: &Request,
    mut handle: R,
    mut meta: Metadata,
    edns: Option<&Edns>,
    mut r: Resolution,
) -> ResponseInfo {
    if request.protocol() == Protocol::Udp {
        let limit = match &request.edns {
            Some(e) => e.max_payload().clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
            None => MIN_UDP_PAYLOAD,
        };
        let fits = |meta: Metadata, r: &Resolution| -> Option<(bool, u16)> {
            let mut buf = Vec::with_capacity(usize::from(limit));
            let mut encoder = BinEncoder::new(&mut buf);
            encoder.set_max_size(limit);
            let mut builder = MessageResponseBuilder::new(&request.queries, None);
            if let Some(e) = edns {
                builder.edns(e);
            }
            let msg = builder.build(meta, &r.answers, &r.authority, std::iter::empty::<&Record>(), &r.additional);
            let info = msg.destructive_emit(&mut encoder).ok()?;
            Some((!info.truncation, info.counts().answers))
        };
        if fits(meta, &r).is_some_and(|(ok, _)| !ok) {
            r.additional.clear();
            if fits(meta, &r).is_some_and(|(ok, _)| !ok) {
                r.authority.clear();
                if let Some((false, kept)) = fits(meta, &r) {
                    r.answers.truncate(usize::from(kept));
                    meta.truncation = true;
                }
            }
        }
    }
    let mut builder = MessageResponseBuilder::new(&request.queries, None);
    if let Some(e) = edns {
        builder.edns(e);
    }
    let response = builder.build(meta, &r.answers, &r.authority, std::iter::empty::<&Record>(), &r.additional);
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, src = %request.src(), "sending a DNS response failed");
            meta.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header { metadata: meta, counts: HeaderCounts::default() })
        }
    }
}
