// Records presentations made by @auth0/mdl for verifier/testdata/realworld.
// Usage: node gen.mjs PKI_DIR OUT_DIR
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { Document, MDoc, DeviceResponse, DataItem } from '@auth0/mdl'
import { cborEncode } from '@auth0/mdl/lib/cbor/index.js'

const [pki, out] = process.argv.slice(2)
const read = (f) => readFileSync(`${pki}/${f}`, 'utf8')
const json = (f) => JSON.parse(read(f))
const pub = ({ d, ...rest }) => rest

function oid4vpTranscript(clientId, nonce, responseUri) {
  // OpenID4VP 1.0 Appendix B.2.6.1, unencrypted response: jwk_thumbprint null.
  const info = cborEncode([clientId, nonce, null, responseUri])
  return cborEncode(DataItem.fromData([null, null, ['OpenID4VPHandover', createHash('sha256').update(info).digest()]]))
}

function pd(docType, ns, ids) {
  return { id: 'pd', input_descriptors: [{ id: docType, format: { mso_mdoc: { alg: ['ES256', 'ES384'] } },
    constraints: { limit_disclosure: 'required', fields: ids.map((id) => ({ path: [`$['${ns}']['${id}']`], intent_to_retain: false })) } }] }
}

async function issue({ curve, docType, ns, values, alg, deviceKeyJwk }) {
  const doc = await new Document(docType)
    .addIssuerNameSpace(ns, values)
    .useDigestAlgorithm(alg === 'ES384' ? 'SHA-384' : 'SHA-256')
    .addValidityInfo({ signed: new Date('2026-11-20T00:00:00Z'), validFrom: new Date('2026-11-20T00:00:00Z'), validUntil: new Date('2027-11-20T00:00:00Z') })
    .addDeviceKeyInfo({ deviceKey: pub(deviceKeyJwk) })
    .sign({ issuerPrivateKey: json(`${curve}-ds-key.json`), issuerCertificate: read(`${curve}-ds.pem`), alg })
  return new MDoc([doc])
}

async function record(name, mdoc, transcript, present) {
  const dir = `${out}/${name}`
  mkdirSync(dir, { recursive: true })
  let b = DeviceResponse.from(mdoc).usingPresentationDefinition(present.pd).usingSessionTranscriptBytes(transcript)
  b = present.mac ? b.authenticateWithMAC(present.key, present.mac, 'HS256') : b.authenticateWithSignature(present.key, present.alg)
  const resp = await b.sign()
  writeFileSync(`${dir}/device-response.cbor`, Buffer.from(resp.encode()))
  writeFileSync(`${dir}/session-transcript.cbor`, Buffer.from(transcript))
}

const st = oid4vpTranscript('x509_san_dns:verifier.example.jp', 'n-Jj3mUq0Wd1', 'https://verifier.example.jp/response')

// 1. EU PID; the device key JWK has a kid (text), as wallets' keys do.
const dev256 = json('p256-device-key.json')
const pidValues = { family_name: 'Yamada', given_name: 'Hanako', birth_date: '1990-04-01', age_over_18: true, issuing_country: 'JP' }
const pid = await issue({ curve: 'p256', docType: 'eu.europa.ec.eudi.pid.1', ns: 'eu.europa.ec.eudi.pid.1', values: pidValues, alg: 'ES256', deviceKeyJwk: dev256 })
await record('auth0-pid-text-kid', pid, st, { pd: pd('eu.europa.ec.eudi.pid.1', 'eu.europa.ec.eudi.pid.1', ['age_over_18', 'family_name']), key: dev256, alg: 'ES256' })

// 2. mDL on P-384 (ES384, SHA-384), device key without kid.
const dev384 = json('p384-device-key.json')
delete dev384.kid
const mdlValues = { family_name: 'Sato', given_name: 'Taro', age_over_21: true, document_number: 'JP1234567', issuing_country: 'JP' }
const mdl = await issue({ curve: 'p384', docType: 'org.iso.18013.5.1.mDL', ns: 'org.iso.18013.5.1', values: mdlValues, alg: 'ES384', deviceKeyJwk: dev384 })
await record('auth0-mdl-p384', mdl, st, { pd: pd('org.iso.18013.5.1.mDL', 'org.iso.18013.5.1', ['age_over_21']), key: dev384, alg: 'ES384' })

// 3. The same PID presented with a deviceMac (EMacKey from the device key
// and the reader's ephemeral key).
const reader = json('reader-ephemeral-key.json')
// @auth0/mdl takes the reader's key as a COSE_Key.
const readerPub = cborEncode(new Map([[1, 2], [-1, 1], [-2, Buffer.from(reader.x, 'base64url')], [-3, Buffer.from(reader.y, 'base64url')]]))
await record('auth0-pid-mac', pid, st, { pd: pd('eu.europa.ec.eudi.pid.1', 'eu.europa.ec.eudi.pid.1', ['given_name']), key: dev256, mac: readerPub })
