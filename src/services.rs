//! The services this binary serves: one registration line each.

use crate::registry::Registration;

/// Every service, in the order the front end tries their routes.
pub static ALL: &[&Registration] = &[
    &crate::cloudmap::REGISTRATION,
    &crate::mskconnect::REGISTRATION,
    &crate::ram::REGISTRATION,
    &crate::sts::REGISTRATION,
];

#[cfg(test)]
mod tests {
    //! The wire, routing and encoding errors on the tables of the services of this binary.

    use crate::model::Service;
    use crate::wire::shape::{self, ApiError, Protocol, WireService};
    use crate::wire::{classify, encode_error, rest::match_operation, Route};

    fn tables() -> Vec<&'static WireService> {
        super::ALL.iter().map(|r| r.wire()).collect()
    }

    #[test]
    fn classifies_cbor_json_and_rest() {
        let wires = tables();
        let h = |name: &str| match name {
            "smithy-protocol" => Some("rpc-v2-cbor".to_string()),
            _ => None,
        };
        match classify(&wires, "POST", "/prefix/service/Route53AutoNaming_v20170314/operation/GetOperation", h) {
            Route::Operation { operation, protocol, .. } => {
                assert_eq!(operation.name, "GetOperation");
                assert_eq!(protocol, Protocol::RpcV2Cbor);
            }
            other => panic!("{other:?}"),
        }
        let h = |name: &str| (name == "x-amz-target").then(|| "Route53AutoNaming_v20170314.ListNamespaces".to_string());
        assert!(matches!(classify(&wires, "POST", "/", h), Route::Operation { protocol: Protocol::AwsJson11, .. }));
        let h = |name: &str| (name == "x-amz-target").then(|| "Other_20200101.Thing".to_string());
        assert!(matches!(
            classify(&wires, "POST", "/", h),
            Route::UnknownOperation { protocol: Protocol::AwsJson11, .. }
        ));
        let none = |_: &str| None;
        assert!(matches!(
            classify(&wires, "GET", "/v1/connectors", none),
            Route::Operation { protocol: Protocol::RestJson1, .. }
        ));
        assert!(matches!(
            classify(&wires, "PATCH", "/v1/connectors", none),
            Route::UnknownOperation { protocol: Protocol::RestJson1, .. }
        ));
        assert!(matches!(classify(&wires, "GET", "/v1/", none), Route::UnknownOperation { .. }));
        assert!(matches!(classify(&wires, "GET", "/v1", none), Route::Other));
        assert!(matches!(classify(&wires, "GET", "/elsewhere", none), Route::Other));
        assert!(matches!(classify(&wires, "GET", "/", none), Route::Other));
    }

    #[test]
    fn form_posts_go_to_the_query_service() {
        let wires = tables();
        let h = |n: &str| (n == "content-type").then(|| "application/x-www-form-urlencoded; charset=utf-8".to_string());
        match classify(&wires, "POST", "/", h) {
            Route::QueryAction { service } => assert_eq!(wires[service].name, "sts"),
            other => panic!("{other:?}"),
        }
        let json = |n: &str| (n == "content-type").then(|| "application/json".to_string());
        assert!(matches!(classify(&wires, "POST", "/", json), Route::Other));
    }

    #[test]
    fn arn_labels_are_single_segments() {
        let ops = Service::KafkaConnect.wire().operations;
        let p = "/v1/connectors/arn%3Aaws%3Akafkaconnect%3Aus-east-1%3A123456789012%3Aconnector%2Forders%2Fabc-2/operations";
        let (op, labels) = match_operation("GET", p, ops).unwrap();
        assert_eq!(op.name, "ListConnectorOperations");
        assert_eq!(labels[0].1, "arn:aws:kafkaconnect:us-east-1:123456789012:connector/orders/abc-2");
        let p = "/v1/connectors/arn:aws:kafkaconnect:us-east-1:123456789012:connector%2Forders%2Fabc-2";
        let (op, _) = match_operation("PUT", p, ops).unwrap();
        assert_eq!(op.name, "UpdateConnector");
        assert!(match_operation("PATCH", "/v1/connectors", ops).is_none());
    }

    #[test]
    fn cbor_error_matches_reference_bytes() {
        let err = ApiError::new(&crate::model::servicediscovery::errors::OPERATION_NOT_FOUND, "Operation not found");
        let r = encode_error(Protocol::RpcV2Cbor, Some(Service::ServiceDiscovery.wire()), &err);
        assert_eq!(r.body.len(), 86);
        assert_eq!(r.status, 404);
    }

    #[test]
    fn framework_errors_take_the_services_names() {
        let err = ApiError::new(&shape::SERVICE_UNAVAILABLE, "store down");
        let r = encode_error(Protocol::RestJson1, Some(Service::KafkaConnect.wire()), &err);
        assert_eq!(r.headers[0].1, "ServiceUnavailableException");
        let r = encode_error(Protocol::AwsJson11, Some(Service::ServiceDiscovery.wire()), &err);
        assert!(String::from_utf8(r.body).unwrap().contains("\"ServiceUnavailable\""));
    }
}
