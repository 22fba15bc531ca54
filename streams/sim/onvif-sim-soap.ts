// SOAP bodies the ONVIF simulator answers with, shaped like a real Profile S camera's
// (namespaces and element names from the ONVIF device and media WSDLs, ver10).
import { escapeXml as x } from '../onvif/soap-xml.js';

export interface SimProfile {
  token: string;
  name: string;
  encoding: 'H264' | 'H265' | 'JPEG';
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
}

export interface SimIdentity {
  manufacturer: string;
  model: string;
  firmware: string;
  serial: string;
  hardwareId: string;
}

const NS =
  'xmlns:s="http://www.w3.org/2003/05/soap-envelope" ' +
  'xmlns:tt="http://www.onvif.org/ver10/schema" ' +
  'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" ' +
  'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" ' +
  'xmlns:ter="http://www.onvif.org/ver10/error" ' +
  'xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"';

export function envelope(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope ${NS}><s:Header/><s:Body>${body}</s:Body></s:Envelope>`;
}

/** SOAP 1.2 fault as cameras send for a rejected WS-Security token (HTTP 400). */
export function fault(subcode: string, reason: string): string {
  return envelope(
    `<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>${x(subcode)}</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text xml:lang="en">${x(reason)}</s:Text></s:Reason></s:Fault>`,
  );
}

export function systemDateAndTime(now: Date): string {
  return envelope(
    '<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>' +
      '<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>' +
      '<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>' +
      '<tt:UTCDateTime>' +
      `<tt:Time><tt:Hour>${now.getUTCHours()}</tt:Hour><tt:Minute>${now.getUTCMinutes()}</tt:Minute><tt:Second>${now.getUTCSeconds()}</tt:Second></tt:Time>` +
      `<tt:Date><tt:Year>${now.getUTCFullYear()}</tt:Year><tt:Month>${now.getUTCMonth() + 1}</tt:Month><tt:Day>${now.getUTCDate()}</tt:Day></tt:Date>` +
      '</tt:UTCDateTime>' +
      '</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>',
  );
}

export function deviceInformation(id: SimIdentity): string {
  return envelope(
    '<tds:GetDeviceInformationResponse>' +
      `<tds:Manufacturer>${x(id.manufacturer)}</tds:Manufacturer><tds:Model>${x(id.model)}</tds:Model>` +
      `<tds:FirmwareVersion>${x(id.firmware)}</tds:FirmwareVersion><tds:SerialNumber>${x(id.serial)}</tds:SerialNumber>` +
      `<tds:HardwareId>${x(id.hardwareId)}</tds:HardwareId>` +
      '</tds:GetDeviceInformationResponse>',
  );
}

export function capabilities(base: string): string {
  return envelope(
    '<tds:GetCapabilitiesResponse><tds:Capabilities>' +
      `<tt:Device><tt:XAddr>${x(base)}/onvif/device_service</tt:XAddr></tt:Device>` +
      `<tt:Media><tt:XAddr>${x(base)}/onvif/media_service</tt:XAddr>` +
      '<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>' +
      '<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>' +
      '</tds:Capabilities></tds:GetCapabilitiesResponse>',
  );
}

export function services(base: string): string {
  const svc = (ns: string, path: string) =>
    `<tds:Service><tds:Namespace>${ns}</tds:Namespace><tds:XAddr>${x(base)}${path}</tds:XAddr>` +
    '<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>';
  return envelope(
    '<tds:GetServicesResponse>' +
      svc('http://www.onvif.org/ver10/device/wsdl', '/onvif/device_service') +
      svc('http://www.onvif.org/ver10/media/wsdl', '/onvif/media_service') +
      '</tds:GetServicesResponse>',
  );
}

function profileXml(p: SimProfile): string {
  return (
    `<trt:Profiles token="${x(p.token)}" fixed="true"><tt:Name>${x(p.name)}</tt:Name>` +
    '<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSourceConfig</tt:Name>' +
    '<tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>' +
    '<tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>' +
    `<tt:VideoEncoderConfiguration token="VideoEncoder_${x(p.token)}"><tt:Name>${x(p.name)}Encoder</tt:Name>` +
    `<tt:UseCount>1</tt:UseCount><tt:Encoding>${p.encoding}</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${p.width}</tt:Width><tt:Height>${p.height}</tt:Height></tt:Resolution>` +
    '<tt:Quality>4</tt:Quality>' +
    `<tt:RateControl><tt:FrameRateLimit>${p.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>` +
    `<tt:BitrateLimit>${p.bitrateKbps}</tt:BitrateLimit></tt:RateControl>` +
    (p.encoding === 'H264' ? '<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>' : '') +
    '<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>' +
    '<tt:Port>0</tt:Port><tt:TTL>0</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>' +
    '<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration></trt:Profiles>'
  );
}

export function profiles(list: SimProfile[]): string {
  return envelope(`<trt:GetProfilesResponse>${list.map(profileXml).join('')}</trt:GetProfilesResponse>`);
}

export function videoSources(): string {
  return envelope(
    '<trt:GetVideoSourcesResponse><trt:VideoSources token="VideoSource_1"><tt:Framerate>25</tt:Framerate>' +
      '<tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></trt:VideoSources>' +
      '</trt:GetVideoSourcesResponse>',
  );
}

function mediaUri(uri: string): string {
  return (
    `<trt:MediaUri><tt:Uri>${x(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>` +
    '<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>'
  );
}

export function streamUri(uri: string): string {
  return envelope(`<trt:GetStreamUriResponse>${mediaUri(uri)}</trt:GetStreamUriResponse>`);
}

export function snapshotUri(uri: string): string {
  return envelope(`<trt:GetSnapshotUriResponse>${mediaUri(uri)}</trt:GetSnapshotUriResponse>`);
}

export function scopesList(id: SimIdentity, name: string): string[] {
  return [
    'onvif://www.onvif.org/type/video_encoder',
    'onvif://www.onvif.org/Profile/Streaming',
    `onvif://www.onvif.org/hardware/${encodeURIComponent(id.model)}`,
    `onvif://www.onvif.org/name/${encodeURIComponent(name)}`,
    'onvif://www.onvif.org/location/country/china',
  ];
}
