import type { ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';

/**
 * S3's REST XML: elements named as in the API model (UpperCamel), lists flattened (a `Contents` element per item),
 * undefined members left out. Handlers answer plain objects; arrays repeat their element name.
 */
export type XmlValue = string | number | boolean | undefined | null | XmlObject | XmlValue[];
export interface XmlObject {
  [name: string]: XmlValue;
}

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"'\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function write(out: string[], name: string, v: XmlValue): void {
  if (v === undefined || v === null) return;
  if (Array.isArray(v)) {
    for (const item of v) write(out, name, item);
  } else if (typeof v === 'object') {
    out.push(`<${name}>`);
    for (const [k, x] of Object.entries(v)) write(out, k, x);
    out.push(`</${name}>`);
  } else {
    out.push(`<${name}>${escapeXml(String(v))}</${name}>`);
  }
}

export function toXml(root: string, body: XmlObject, ns = true): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>\n', ns ? `<${root} xmlns="${S3_NS}">` : `<${root}>`];
  for (const [k, v] of Object.entries(body)) write(out, k, v);
  out.push(`</${root}>`);
  return out.join('');
}

export function sendXml(
  res: ServerResponse,
  root: string,
  body: XmlObject,
  headers: Record<string, string> = {},
): void {
  const bytes = Buffer.from(toXml(root, body));
  res.writeHead(200, { ...headers, 'content-type': 'application/xml', 'content-length': bytes.length });
  res.end(bytes);
}

/** An answer without a body (PUT bucket, DELETE's 204, HEAD). */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-length': 0 });
  res.end();
}

/** A parsed element: namespace prefixes dropped, text of leaf elements entity-decoded. */
export interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

const TOKEN =
  /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|([^<]+)/g;

/** Parses the small XML documents S3 requests carry; anything not well formed is AWS's MalformedXML. */
export function parseXml(text: string): XmlNode {
  const stack: XmlNode[] = [{ name: '#document', children: [], text: '' }];
  for (const m of text.matchAll(TOKEN)) {
    const top = stack[stack.length - 1] as XmlNode;
    if (m[1] !== undefined) top.text += m[1];
    else if (m[5] !== undefined) top.text += decodeEntities(m[5]);
    else if (m[3] !== undefined) {
      const name = m[3].replace(/^.*:/, '');
      if (m[2] === '/') {
        if (stack.length < 2 || top.name !== name) throw malformedXml();
        stack.pop();
      } else {
        const node: XmlNode = { name, children: [], text: '' };
        top.children.push(node);
        if (m[4] !== '/') stack.push(node);
      }
    }
  }
  const root = stack[0]?.children[0];
  if (stack.length !== 1 || !root || (stack[0] as XmlNode).children.length !== 1) throw malformedXml();
  return root;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e[0] === '#')
      return String.fromCodePoint(e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e] as string;
  });
}

export function child(node: XmlNode, name: string): XmlNode | undefined {
  return node.children.find((c) => c.name === name);
}

export function childText(node: XmlNode, name: string): string | undefined {
  return child(node, name)?.text.trim();
}

export function childrenNamed(node: XmlNode, name: string): XmlNode[] {
  return node.children.filter((c) => c.name === name);
}

export function malformedXml(): AwsError {
  return new AwsError(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
    400,
  );
}

/** Parses a request body expected to hold the document `root`. */
export function parseBody(body: Buffer, root: string): XmlNode {
  const doc = parseXml(body.toString('utf8'));
  if (doc.name !== root) throw malformedXml();
  return doc;
}
