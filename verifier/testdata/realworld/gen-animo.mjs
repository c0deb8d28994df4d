// Records a presentation made by @animo-id/mdoc for verifier/testdata/realworld.
// Usage: node gen-animo.mjs PKI_DIR OUT_DIR
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { createHash, createPrivateKey, sign as nodeSign, randomBytes } from 'node:crypto'
import { Document, MDoc, DeviceResponse, DataItem, cborEncode } from '@animo-id/mdoc'

const [pki, out] = process.argv.slice(2)
const read = (f) => readFileSync(`${pki}/${f}`, 'utf8')
const json = (f) => JSON.parse(read(f))
const pub = ({ d, ...rest }) => rest

// The context @animo-id/mdoc asks of its user: only what issuing and a
// device signature need, from Node's crypto.
const crypto = {
  random: (n) => new Uint8Array(randomBytes(n)),
  digest: ({ digestAlgorithm, bytes }) => new Uint8Array(createHash(digestAlgorithm.replace('-', '').toLowerCase()).update(bytes).digest()),
  calculateEphemeralMacKeyJwk: () => { throw new Error('not used') },
}
const cose = {
  sign1: {
    sign: ({ sign1, jwk }) => {
      const { data, alg } = sign1.getRawSigningData()
      const hash = { ES256: 'sha256', ES384: 'sha384', ES512: 'sha512' }[alg]
      const key = createPrivateKey({ key: jwk, format: 'jwk' })
      return new Uint8Array(nodeSign(hash, data, { key, dsaEncoding: 'ieee-p1363' }))
    },
    verify: () => { throw new Error('not used') },
  },
  mac0: { sign: () => { throw new Error('not used') }, verify: () => { throw new Error('not used') } },
}
const ctx = { crypto, cose }

const info = cborEncode(['x509_san_dns:verifier.example.jp', 'n-7hQm2sVx9K', null, 'https://verifier.example.jp/response'])
const transcript = cborEncode(DataItem.fromData([null, null, ['OpenID4VPHandover', createHash('sha256').update(info).digest()]]))

const dev = json('p256-device-key.json')
const doc = await new Document('eu.europa.ec.eudi.pid.1', { crypto })
  .addIssuerNameSpace('eu.europa.ec.eudi.pid.1', { family_name: 'Suzuki', given_name: 'Ichiro', age_over_18: true, issuing_country: 'JP' })
  .useDigestAlgorithm('SHA-256')
  .addValidityInfo({ signed: new Date('2026-11-20T00:00:00Z'), validFrom: new Date('2026-11-20T00:00:00Z'), validUntil: new Date('2027-11-20T00:00:00Z') })
  .addDeviceKeyInfo({ deviceKey: pub(dev) })
  .sign({ issuerPrivateKey: json('p256-ds-key.json'), issuerCertificate: read('p256-ds.pem'), alg: 'ES256' }, ctx)
const pd = { id: 'pd', input_descriptors: [{ id: 'eu.europa.ec.eudi.pid.1', format: { mso_mdoc: { alg: ['ES256'] } },
  constraints: { limit_disclosure: 'required', fields: ['age_over_18', 'issuing_country'].map((id) => ({ path: [`$['eu.europa.ec.eudi.pid.1']['${id}']`], intent_to_retain: false })) } }] }
const resp = await DeviceResponse.from(new MDoc([doc]))
  .usingPresentationDefinition(pd)
  .usingSessionTranscriptBytes(transcript)
  .authenticateWithSignature(dev, 'ES256')
  .sign(ctx)
const dir = `${out}/animo-pid`
mkdirSync(dir, { recursive: true })
writeFileSync(`${dir}/device-response.cbor`, Buffer.from(resp.encode()))
writeFileSync(`${dir}/session-transcript.cbor`, Buffer.from(transcript))
