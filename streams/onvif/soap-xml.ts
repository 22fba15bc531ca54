// Just enough XML for SOAP messages we read ourselves (WS-Discovery ProbeMatches, and the
// simulator reading requests). Matching is by local name, so any namespace prefix a camera
// vendor picks works. This is deliberately not a general XML parser: it finds elements by
// name, never throws, and returns nothing for anything malformed. The ONVIF device and media
// services are parsed by the `onvif` library itself.

const NAME = '[A-Za-z_][\\w.-]*';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the five predefined entities and numeric character references; leaves unknown ones. */
export function decodeXmlText(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref] ?? whole;
  });
}

/** Escapes text for an XML element body or attribute value. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function stripCdata(inner: string): string {
  return inner.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_m, body: string) => escapeXml(body));
}

export interface XmlElement {
  /** Attributes by local name (prefix dropped), values decoded. */
  attrs: Record<string, string>;
  /** Raw inner XML. */
  inner: string;
}

function parseAttrs(raw: string): Record<string, string> {
  const attrs: Record<string, string> = Object.create(null);
  const re = new RegExp(`(?:${NAME}:)?(${NAME})\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'g');
  for (const m of raw.matchAll(re)) attrs[m[1]] = decodeXmlText(m[2] ?? m[3] ?? '');
  return attrs;
}

/**
 * All elements with this local name, in document order (outermost matches; an element nested in
 * a same-named element is found only inside the outer one's `inner`).
 */
export function xmlElements(xml: string, localName: string): XmlElement[] {
  const name = escapeRegExp(localName);
  const re = new RegExp(
    `<(${NAME}:)?${name}((?:\\s[^<>]*?)?)(?:/>|>([\\s\\S]*?)</(?:${NAME}:)?${name}\\s*>)`,
    'g',
  );
  const out: XmlElement[] = [];
  for (const m of xml.matchAll(re)) {
    let attrRaw = m[2] ?? '';
    if (attrRaw.endsWith('/')) attrRaw = attrRaw.slice(0, -1);
    out.push({ attrs: parseAttrs(attrRaw), inner: m[3] ?? '' });
  }
  return out;
}

/** Text content (tags removed, entities decoded, trimmed) of the first element with this name. */
export function xmlText(xml: string, localName: string): string | undefined {
  const el = xmlElements(xml, localName)[0];
  return el ? textOf(el.inner) : undefined;
}

/** Text content of every element with this name. */
export function xmlTexts(xml: string, localName: string): string[] {
  return xmlElements(xml, localName).map((el) => textOf(el.inner));
}

export function textOf(inner: string): string {
  return decodeXmlText(stripCdata(inner).replace(/<[^>]*>/g, '')).trim();
}

/** Local name of the first element inside the SOAP Body: the operation a request asks for. */
export function soapOperation(xml: string): string | undefined {
  const body = xmlElements(xml, 'Body')[0];
  if (!body) return undefined;
  const m = new RegExp(`<(?:${NAME}:)?(${NAME})[\\s/>]`).exec(body.inner);
  return m?.[1];
}

/** Splits a whitespace-separated list element (XAddrs, Scopes, Types). */
export function xmlList(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter(Boolean);
}
