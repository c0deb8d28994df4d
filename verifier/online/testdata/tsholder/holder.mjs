// A holder that nobody in this project wrote: OpenID4VP 1.0 from
// @openid4vc/openid4vp (request resolution, direct_post.jwt response),
// the mdoc DeviceResponse from @auth0/mdl, JOSE from jose. Only the glue
// between them is here. Input: a JSON file named on the command line with
// {invocation, mdoc (base64url MDoc CBOR), deviceJwk, readerRootPem}.
// Output: one JSON line {status, body} of the verifier's answer.
import { readFileSync } from 'node:fs'
import { createHash, X509Certificate } from 'node:crypto'
import { Openid4vpClient } from '@openid4vc/openid4vp'
import { DeviceResponse, DataItem } from '@auth0/mdl'
import { cborEncode } from '@auth0/mdl/lib/cbor/index.js'
import { setGlobalConfig } from '@openid4vc/oauth2'
import * as jose from 'jose'

// The test verifier listens on http://127.0.0.1; a deployed one is https.
setGlobalConfig({ allowInsecureUrls: true })

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'))

// The test runs on a fixed clock (input.now); the holder's clock follows it
// so that the request object's iat/exp and the credential's validity agree.
if (input.now) {
  const RealDate = Date
  const offset = RealDate.parse(input.now) - RealDate.now()
  globalThis.Date = class extends RealDate {
    constructor(...a) { if (a.length === 0) super(RealDate.now() + offset); else super(...a) }
    static now() { return RealDate.now() + offset }
  }
}
const readerRoot = new X509Certificate(input.readerRootPem)

const sha = (alg) => ({ 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512' })[alg] ?? 'sha256'
const callbacks = {
  fetch: (url, init) => fetch(url, init),
  hash: (data, alg) => new Uint8Array(createHash(sha(alg)).update(data).digest()),
  // The request object must be signed by a reader certificate under the
  // reader root this holder trusts.
  verifyJwt: async (signer, jwt) => {
    if (signer.method !== 'x5c') return { verified: false }
    const leaf = new X509Certificate(Buffer.from(signer.x5c[0], 'base64'))
    if (!leaf.verify(readerRoot.publicKey)) return { verified: false }
    const key = await jose.importX509(leaf.toString(), jwt.header.alg)
    try {
      await jose.compactVerify(jwt.compact, key)
    } catch {
      return { verified: false }
    }
    return { verified: true, signerJwk: await jose.exportJWK(key) }
  },
  getX509CertificateMetadata: (certificate) => {
    const c = new X509Certificate(Buffer.from(certificate, 'base64'))
    const san = (c.subjectAltName ?? '').split(', ')
    return {
      sanDnsNames: san.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)),
      sanUriNames: san.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
    }
  },
  encryptJwe: async (encryptor, data) => {
    // OpenID4VP 1.0 binds the response to the request through the
    // OpenID4VPHandover (nonce, key thumbprint), not apu/apv; the library
    // fills both from the one nonce, which jose refuses, so neither is sent.
    const hdr = { alg: encryptor.alg, enc: encryptor.enc, kid: encryptor.publicJwk.kid }
    const jwe = await new jose.CompactEncrypt(new TextEncoder().encode(data))
      .setProtectedHeader(hdr)
      .encrypt(await jose.importJWK(encryptor.publicJwk, encryptor.alg))
    return { encryptionJwk: encryptor.publicJwk, jwe }
  },
  decryptJwe: () => { throw new Error('not used') },
  signJwt: () => { throw new Error('not used') },
}

const client = new Openid4vpClient({ callbacks })
const parsed = client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: input.invocation })
const resolved = await client.resolveOpenId4vpAuthorizationRequest({ authorizationRequestPayload: parsed.params })
const req = resolved.authorizationRequestPayload
const query = resolved.dcql.query
const cred = query.credentials[0]

// The verifier's encryption key: its thumbprint binds the transcript.
const encJwk = req.client_metadata.jwks.keys.find((k) => k.use === 'enc' || k.alg === 'ECDH-ES') ?? req.client_metadata.jwks.keys[0]
const thumb = Buffer.from(await jose.calculateJwkThumbprint(encJwk, 'sha256'), 'base64url')
// OpenID4VP 1.0 Appendix B.2.6.1: OpenID4VPHandover.
const info = cborEncode([req.client_id, req.nonce, thumb, req.response_uri])
const handover = ['OpenID4VPHandover', createHash('sha256').update(info).digest()]
const transcriptBytes = cborEncode(DataItem.fromData([null, null, handover]))

// DCQL claims → the presentation definition @auth0/mdl selects by.
const pd = {
  id: 'dcql',
  input_descriptors: [{
    id: cred.meta.doctype_value,
    format: { mso_mdoc: { alg: ['ES256'] } },
    constraints: {
      limit_disclosure: 'required',
      fields: cred.claims.map((c) => ({ path: [`$['${c.path[0]}']['${c.path[1]}']`], intent_to_retain: false })),
    },
  }],
}
const mdoc = Buffer.from(input.mdoc, 'base64url')
const presented = await DeviceResponse.from(mdoc)
  .usingPresentationDefinition(pd)
  .usingSessionTranscriptBytes(transcriptBytes)
  .authenticateWithSignature(input.deviceJwk, 'ES256')
  .sign()
const vpToken = { [cred.id]: [Buffer.from(presented.encode()).toString('base64url')] }

const response = await client.createOpenid4vpAuthorizationResponse({
  authorizationRequestPayload: req,
  authorizationResponsePayload: { vp_token: vpToken },
  jarm: {
    encryption: { nonce: req.nonce },
    serverMetadata: {
      authorization_signing_alg_values_supported: [],
      authorization_encryption_alg_values_supported: ['ECDH-ES'],
      authorization_encryption_enc_values_supported: ['A128GCM', 'A256GCM'],
    },
  },
})
const submitted = await client.submitOpenid4vpAuthorizationResponse({
  authorizationRequestPayload: req,
  authorizationResponsePayload: response.authorizationResponsePayload,
  jarm: response.jarm ? { responseJwt: response.jarm.responseJwt } : undefined,
})
console.log(JSON.stringify({ status: submitted.response.status, body: await submitted.response.text() }))
