//! Sample documents for examples, benchmarks and tests.

/// A typical ≈2 KB EPCIS 2.0 JSON-LD document with one shipping `ObjectEvent`: six
/// SGTINs, a read point and business location, three business transactions, source and
/// destination, a temperature sensor report and a user extension.
pub fn object_event_document() -> String {
    r#"{
  "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"example": "https://ns.example.com/epcis/"}],
  "type": "EPCISDocument",
  "schemaVersion": "2.0",
  "creationDate": "2024-03-01T09:12:45.118Z",
  "epcisBody": {
    "eventList": [
      {
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T10:03:17.412+01:00",
        "eventTimeZoneOffset": "+01:00",
        "recordTime": "2024-03-01T10:03:18.007+01:00",
        "epcList": [
          "urn:epc:id:sgtin:4012345.011122.100001",
          "urn:epc:id:sgtin:4012345.011122.100002",
          "urn:epc:id:sgtin:4012345.011122.100003",
          "urn:epc:id:sgtin:4012345.011122.100004",
          "urn:epc:id:sgtin:4012345.011122.100005",
          "urn:epc:id:sgtin:4012345.011122.100006"
        ],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00011.987"},
        "bizLocation": {"id": "urn:epc:id:sgln:4012345.00011.0"},
        "bizTransactionList": [
          {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:PO-2024-000123"},
          {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:DESADV-88812"},
          {"type": "bol", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:BOL-55501"}
        ],
        "sourceList": [
          {"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"},
          {"type": "location", "source": "urn:epc:id:sgln:4012345.00011.0"}
        ],
        "destinationList": [
          {"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00000"},
          {"type": "location", "destination": "urn:epc:id:sgln:0614141.00888.0"}
        ],
        "sensorElementList": [
          {
            "sensorMetadata": {"time": "2024-03-01T10:00:00.000+01:00", "deviceID": "urn:epc:id:giai:4000001.111"},
            "sensorReport": [
              {"type": "Temperature", "value": 4.5, "uom": "CEL"},
              {"type": "RelativeHumidity", "value": 61.25, "uom": "A93"}
            ]
          }
        ],
        "example:carrier": {"example:name": "Rhein-Spedition GmbH", "example:vehicle": "FR-LG-1205"}
      }
    ]
  }
}"#
    .to_string()
}

/// The same document as [`object_event_document`] in EPCIS 2.0 XML.
pub fn object_event_document_xml() -> String {
    r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:example="https://ns.example.com/epcis/" xmlns:gs1="https://gs1.org/voc/" schemaVersion="2.0" creationDate="2024-03-01T09:12:45.118Z">
  <EPCISBody>
    <EventList>
      <ObjectEvent>
        <eventTime>2024-03-01T10:03:17.412+01:00</eventTime>
        <recordTime>2024-03-01T10:03:18.007+01:00</recordTime>
        <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
        <epcList>
          <epc>urn:epc:id:sgtin:4012345.011122.100001</epc>
          <epc>urn:epc:id:sgtin:4012345.011122.100002</epc>
          <epc>urn:epc:id:sgtin:4012345.011122.100003</epc>
          <epc>urn:epc:id:sgtin:4012345.011122.100004</epc>
          <epc>urn:epc:id:sgtin:4012345.011122.100005</epc>
          <epc>urn:epc:id:sgtin:4012345.011122.100006</epc>
        </epcList>
        <action>OBSERVE</action>
        <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
        <disposition>urn:epcglobal:cbv:disp:in_transit</disposition>
        <readPoint><id>urn:epc:id:sgln:4012345.00011.987</id></readPoint>
        <bizLocation><id>urn:epc:id:sgln:4012345.00011.0</id></bizLocation>
        <bizTransactionList>
          <bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epcglobal:cbv:bt:0614141073467:PO-2024-000123</bizTransaction>
          <bizTransaction type="urn:epcglobal:cbv:btt:desadv">urn:epcglobal:cbv:bt:4012345000009:DESADV-88812</bizTransaction>
          <bizTransaction type="urn:epcglobal:cbv:btt:bol">urn:epcglobal:cbv:bt:4012345000009:BOL-55501</bizTransaction>
        </bizTransactionList>
        <sourceList>
          <source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:4012345.00000</source>
          <source type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:4012345.00011.0</source>
        </sourceList>
        <destinationList>
          <destination type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:0614141.00000</destination>
          <destination type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:0614141.00888.0</destination>
        </destinationList>
        <sensorElementList>
          <sensorElement>
            <sensorMetadata time="2024-03-01T10:00:00.000+01:00" deviceID="urn:epc:id:giai:4000001.111"/>
            <sensorReport type="gs1:Temperature" value="4.5" uom="CEL"/>
            <sensorReport type="gs1:RelativeHumidity" value="61.25" uom="A93"/>
          </sensorElement>
        </sensorElementList>
        <example:carrier><example:name>Rhein-Spedition GmbH</example:name><example:vehicle>FR-LG-1205</example:vehicle></example:carrier>
      </ObjectEvent>
    </EventList>
  </EPCISBody>
</epcis:EPCISDocument>"#
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sample_is_valid_and_the_same_in_json_and_xml() {
        let j = crate::validate_document(
            super::object_event_document().as_bytes(),
            Some("application/ld+json"),
        );
        let x = crate::validate_document(
            super::object_event_document_xml().as_bytes(),
            Some("application/xml"),
        );
        assert!(j.valid, "{:?}", j.errors);
        assert!(x.valid, "{:?}", x.errors);
        assert_eq!(j.events[0].hash, x.events[0].hash);
        let len = super::object_event_document().len();
        assert!((1800..2600).contains(&len), "{len}");
    }
}
