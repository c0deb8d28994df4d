// A wallet written by nobody on this project: npm @openid4vc/openid4vci
// (OpenID4VCI 1.0 client) redeeming a credential offer of mdoc-issuer.
// Driven by internal/interop/npm_test.go in two phases:
//
//   node wallet.mjs keys STATE.json PROVIDER.json N
//     make a device key and N batch keys (P-256), and a wallet-provider key
//     attestation (typ keyattestation+jwt, as this library makes it) of all
//     of them signed with the provider key and x5c in PROVIDER.json;
//     print {device_jwk, key_attestation}.
//   node wallet.mjs redeem STATE.json OFFER_URI TX_CODE
//     resolve the offer and the issuer metadata, get an access token with
//     the pre-authorized code and tx_code, a c_nonce, one proof JWT per batch
//     key, a batch credential request, and a credential_accepted
//     notification; print {credentials, notification_id, batch_size}.
//
// The issuer runs on http://127.0.0.1: the library's https checks are
// relaxed with setGlobalConfig({allowInsecureUrls: true}), which is what a
// development issuer needs a client to be told.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Openid4vciClient, Openid4vciWalletProvider, setGlobalConfig } from '@openid4vc/openid4vci';
import { clientAuthenticationAnonymous } from '@openid4vc/oauth2';

setGlobalConfig({ allowInsecureUrls: true });

const b64u = (b) => Buffer.from(b).toString('base64url');

function newKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'jwk' });
}

function publicJwk(jwk) {
  const { kty, crv, x, y } = jwk;
  return { kty, crv, x, y };
}

// signJwt signs ES256 with the private JWK registered for the signer's
// public key (jwk method) or the provider key (x5c method).
function signer(keys) {
  return async (jwtSigner, { header, payload }) => {
    let priv;
    if (jwtSigner.method === 'jwk') {
      priv = keys.find((k) => k.x === jwtSigner.publicJwk.x && k.y === jwtSigner.publicJwk.y);
    } else if (jwtSigner.method === 'x5c') {
      priv = keys.provider;
    }
    if (!priv) throw new Error(`no key for signer ${jwtSigner.method}`);
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
    const sig = crypto.sign('sha256', Buffer.from(input), { key: crypto.createPrivateKey({ key: priv, format: 'jwk' }), dsaEncoding: 'ieee-p1363' });
    return { jwt: `${input}.${b64u(sig)}`, signerJwk: publicJwk(priv) };
  };
}

function callbacks(keys) {
  return {
    hash: (data, alg) => crypto.createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
    generateRandom: (n) => crypto.randomBytes(n),
    signJwt: signer(keys),
    clientAuthentication: clientAuthenticationAnonymous(),
    fetch: globalThis.fetch,
  };
}

async function keysPhase(statePath, providerPath, n) {
  const provider = JSON.parse(fs.readFileSync(providerPath, 'utf8'));
  const device = newKey();
  const batch = Array.from({ length: n }, newKey);
  const keys = [device, ...batch];
  keys.provider = provider.private_jwk;
  const wp = new Openid4vciWalletProvider({ callbacks: callbacks(keys) });
  const now = new Date();
  const keyAttestation = await wp.createKeyAttestationJwt({
    signer: { method: 'x5c', x5c: provider.x5c, alg: 'ES256' },
    attestedKeys: keys.map(publicJwk),
    keyStorage: ['iso_18045_high'],
    userAuthentication: ['iso_18045_high'],
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 3600 * 1000),
    use: 'proof_type.jwt',
  });
  fs.writeFileSync(statePath, JSON.stringify({ device, batch, key_attestation: keyAttestation }));
  return { device_jwk: publicJwk(device), key_attestation: keyAttestation };
}

async function redeemPhase(statePath, offerUri, txCode) {
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  const keys = [state.device, ...state.batch];
  const client = new Openid4vciClient({ callbacks: callbacks(keys) });
  const offer = await client.resolveCredentialOffer(offerUri);
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  const batchSize = issuerMetadata.credentialIssuer.batch_credential_issuance?.batch_size ?? 1;
  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer, issuerMetadata, txCode: txCode || undefined,
  });
  const configId = offer.credential_configuration_ids[0];
  const { c_nonce } = await client.requestNonce({ issuerMetadata });
  const use = state.batch.slice(0, Math.min(batchSize, state.batch.length));
  const jwts = [];
  for (const k of use) {
    const { jwt } = await client.createCredentialRequestJwtProof({
      issuerMetadata, credentialConfigurationId: configId, nonce: c_nonce,
      signer: { method: 'jwk', publicJwk: publicJwk(k), alg: 'ES256' },
      keyAttestationJwt: state.key_attestation,
    });
    jwts.push(jwt);
  }
  const res = await client.retrieveCredentials({
    issuerMetadata, accessToken: accessTokenResponse.access_token, credentialConfigurationId: configId,
    proofs: { jwt: jwts },
  });
  const body = res.credentialResponse;
  let notified = false;
  if (body.notification_id) {
    await client.sendNotification({
      issuerMetadata, accessToken: accessTokenResponse.access_token,
      notification: { notificationId: body.notification_id, event: 'credential_accepted' },
    });
    notified = true;
  }
  return {
    credential_configuration_id: configId,
    batch_size: batchSize,
    credentials: (body.credentials ?? []).map((c) => c.credential),
    batch_public_jwks: use.map(publicJwk),
    notification_id: body.notification_id,
    notified,
  };
}

const [, , phase, ...args] = process.argv;
try {
  const out = phase === 'keys' ? await keysPhase(args[0], args[1], Number(args[2]))
    : phase === 'redeem' ? await redeemPhase(args[0], args[1], args[2])
    : (() => { throw new Error(`unknown phase ${phase}`); })();
  process.stdout.write(JSON.stringify(out));
} catch (e) {
  const detail = e?.response ? ` (HTTP ${e.response.status})` : '';
  process.stderr.write(`npm wallet ${phase} failed: ${e?.message ?? e}${detail}\n`);
  if (e?.errorResponse) process.stderr.write(JSON.stringify(e.errorResponse) + '\n');
  if (e?.credentialErrorResponseResult) process.stderr.write(JSON.stringify(e.credentialErrorResponseResult) + '\n');
  process.exit(1);
}
