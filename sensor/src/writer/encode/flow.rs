//! A CNFlow record, and the endpoint and node parts it shares with
//! session records. As in `session.rs`, every struct is taken apart with
//! a pattern naming all its fields.

use cipherlens_record::CnFlowRecord;
use cipherlens_record::attribution::HostInfo;
use cipherlens_record::cnflow::{CnFlow, Direction, FlowEvent, FlowNetwork, InterfaceRef};
use cipherlens_record::session::Endpoint;

use super::RecordEncoder;
use super::json::{Json, Obj, key};

impl Json for Direction {
    fn write(&self, out: &mut Vec<u8>) {
        let Direction {
            packets,
            bytes,
            tcp_flags,
        } = self;
        let mut object = Obj::open(out);
        object.field(key!("packets"), packets);
        object.field(key!("bytes"), bytes);
        object.optional(key!("tcp_flags"), tcp_flags);
        object.close();
    }
}

impl Json for InterfaceRef {
    fn write(&self, out: &mut Vec<u8>) {
        let InterfaceRef { name, index } = self;
        let mut object = Obj::open(out);
        object.field(key!("name"), name);
        object.field(key!("index"), index);
        object.close();
    }
}

impl RecordEncoder {
    pub(super) fn flow_record(&mut self, record: &CnFlowRecord, out: &mut Vec<u8>) {
        let CnFlowRecord {
            schema,
            event,
            network,
            client,
            server,
            host,
            cnflow,
        } = record;
        let mut object = Obj::open(out);
        self.variant(object.key(key!("schema")), schema);
        self.flow_event(object.key(key!("event")), event);
        self.flow_network(object.key(key!("network")), network);
        self.endpoint(object.key(key!("client")), client);
        self.endpoint(object.key(key!("server")), server);
        if let Some(host) = host {
            Self::host(object.key(key!("host")), host);
        }
        self.cnflow(object.key(key!("cnflow")), cnflow);
        object.close();
    }

    fn flow_event(&mut self, out: &mut Vec<u8>, event: &FlowEvent) {
        let FlowEvent {
            kind,
            reason,
            start,
            end,
        } = event;
        let mut object = Obj::open(out);
        self.variant(object.key(key!("kind")), kind);
        self.variant(object.key(key!("reason")), reason);
        object.field(key!("start"), start);
        object.field(key!("end"), end);
        object.close();
    }

    fn flow_network(&mut self, out: &mut Vec<u8>, network: &FlowNetwork) {
        let FlowNetwork {
            transport,
            ip_version,
            community_id,
            interface,
        } = network;
        let mut object = Obj::open(out);
        self.variant(object.key(key!("transport")), transport);
        self.variant(object.key(key!("type")), ip_version);
        object.field(key!("community_id"), community_id);
        object.optional(key!("interface"), interface);
        object.close();
    }

    fn cnflow(&mut self, out: &mut Vec<u8>, cnflow: &CnFlow) {
        let CnFlow {
            id,
            opening_seen,
            client_to_server,
            server_to_client,
            tcp,
        } = cnflow;
        let mut object = Obj::open(out);
        object.field(key!("id"), id);
        object.field(key!("opening_seen"), opening_seen);
        object.field(key!("client_to_server"), client_to_server);
        object.field(key!("server_to_client"), server_to_client);
        if let Some(tcp) = tcp {
            self.serde(object.key(key!("tcp")), tcp);
        }
        object.close();
    }

    /// An endpoint: its address and port, then its attribution's fields
    /// (flattened into the same object).
    pub(super) fn endpoint(&mut self, out: &mut Vec<u8>, endpoint: &Endpoint) {
        let Endpoint {
            address,
            port,
            attribution,
        } = endpoint;
        let mut object = Obj::open(out);
        object.field(key!("address"), address);
        object.field(key!("port"), port);
        object.fields(self.attribution(attribution));
        object.close();
    }

    pub(super) fn host(out: &mut Vec<u8>, host: &HostInfo) {
        let HostInfo { name, id } = host;
        let mut object = Obj::open(out);
        object.field(key!("name"), name);
        object.optional(key!("id"), id);
        object.close();
    }
}
