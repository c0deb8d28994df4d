package sqlstore

// Dialect is what differs between the SQL databases behind the store.
type Dialect struct {
	Name string
	// Blob is the binary column type.
	Blob string
	// AutoID is an auto-incrementing integer primary key column.
	AutoID string
	// Rebind turns ? placeholders into the database's form.
	Rebind func(string) string
	// LockRow is appended to a SELECT of one row the transaction will
	// change, e.g. persons to serialise enrolments of one person (FOR
	// UPDATE on PostgreSQL; SQLite transactions already hold the database
	// write lock, so its dialect leaves the lock clauses empty).
	LockRow string
	// LockNoKey is appended to a SELECT of a row the transaction will
	// update without changing its key (FOR NO KEY UPDATE): the status list
	// whose next_seq a reservation advances. Unlike FOR UPDATE it lets
	// concurrent inserts of rows referencing it (credentials → status_lists)
	// take their foreign-key share lock.
	LockNoKey string
	// ShareRow is appended to a SELECT of a row that must not change until
	// the transaction ends (FOR SHARE): the device whose credentials are
	// being recorded. Concurrent recordings for one device do not wait on
	// each other; a state change waits for them, or they for it.
	ShareRow string
	// Reserve, when set, is one statement doing one step of a status-list
	// reservation (see Store.reserve): given the device id, the list size,
	// the number k of entries wanted and the active device state, it
	// returns no row when the device is unknown, else one row of the
	// device's state and, when that is active and the newest open list of
	// the size has k entries free, takes them and adds that list's id, its
	// next_seq before and after, mul, add_ and size (NULL otherwise). A
	// fifth parameter, 'on' or 'off', says whether the statement must wait
	// for its commit to be flushed ('on' for entries held ahead, which
	// outlive the request). When empty, a reservation step is a
	// transaction of separate statements (SQLite, where a statement costs
	// no round trip).
	Reserve string
	// Record, when set, is one statement recording the credentials of one
	// device and one batch, provided the device is active (see
	// Store.record): parameters $1 device id, $2 the active state, $3 doc
	// type, $4 the credential state, $5 issued-at ms, $6 valid-from ms,
	// $7 valid-until ms, $8 credential ids, $9 list ids, $10 indices
	// (arrays, one element per credential), then the event: $11 actor,
	// $12 action ('' for none: no audit row), $13 person id, $14 device id,
	// $15 detail, $16 e-mail, $17 outbox payload (NULL: no notification),
	// $18 the nonce to consume ('' for none), deleted only when the device
	// is active and the nonce unexpired at $5.
	// It inserts one audit row per credential and one outbox row, share-locks
	// the device row as ShareRow does, and returns three counts: active
	// devices found (0 or 1), nonces consumed (0 or 1) and credentials
	// inserted — none unless the device is active and, when $18 is set,
	// the nonce was consumed.
	Record string
	// PutNonce and ConsumeNonce, when set, replace the store's statements
	// for nonces (parameters: the nonce, then expiry or now, in ms) with
	// ones that commit without waiting for the flush to disk, where the
	// database can (PostgreSQL's synchronous_commit). A nonce is safe to
	// lose in a crash: a lost insertion makes the wallet ask again, and a
	// lost deletion is undone only if no later synchronous commit — the
	// credentials issued against that nonce, recorded after it — flushed
	// it, that is when nothing was issued with it.
	PutNonce, ConsumeNonce string
	// CachesStatements is set when the driver prepares each statement text
	// once per connection by itself (pgx does), so the store need not.
	CachesStatements bool
}

// migrations is the schema, in order; each step runs once, recorded in
// schema_migrations. {{BLOB}} and {{AUTOID}} are replaced per dialect.
// Times are Unix milliseconds (BIGINT) so both databases compare them
// the same way.
var migrations = []string{
	// 1: core schema.
	`CREATE TABLE persons (
		id TEXT PRIMARY KEY,
		person_key TEXT NOT NULL UNIQUE,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE card_certs (
		id TEXT PRIMARY KEY,
		person_id TEXT NOT NULL REFERENCES persons(id),
		serial TEXT NOT NULL,
		issuer TEXT NOT NULL,
		not_after BIGINT NOT NULL,
		der {{BLOB}} NOT NULL,
		revoked INTEGER NOT NULL DEFAULT 0,
		revoked_at BIGINT NOT NULL DEFAULT 0
	);
	CREATE TABLE devices (
		id TEXT PRIMARY KEY,
		person_id TEXT NOT NULL REFERENCES persons(id),
		card_cert_id TEXT NOT NULL REFERENCES card_certs(id),
		device_key TEXT NOT NULL,
		key_thumbprint TEXT NOT NULL,
		model TEXT NOT NULL,
		os_version TEXT NOT NULL,
		wallet_profile TEXT NOT NULL,
		platform_device_id TEXT NOT NULL,
		contact_email TEXT NOT NULL,
		jpki_sign_serial TEXT NOT NULL,
		jpki_auth_serial TEXT NOT NULL,
		state TEXT NOT NULL,
		state_reason TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		updated_at BIGINT NOT NULL,
		valid_until BIGINT NOT NULL
	);
	CREATE UNIQUE INDEX devices_one_live_per_person ON devices(person_id) WHERE state <> 'revoked';
	CREATE INDEX devices_card ON devices(card_cert_id);
	CREATE INDEX devices_model ON devices(model);
	CREATE TABLE status_lists (
		id TEXT PRIMARY KEY,
		size BIGINT NOT NULL,
		next_seq BIGINT NOT NULL,
		mul BIGINT NOT NULL,
		add_ BIGINT NOT NULL,
		version BIGINT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE credentials (
		id TEXT PRIMARY KEY,
		device_id TEXT NOT NULL REFERENCES devices(id),
		doc_type TEXT NOT NULL,
		list_id TEXT NOT NULL REFERENCES status_lists(id),
		idx BIGINT NOT NULL,
		state TEXT NOT NULL,
		issued_at BIGINT NOT NULL,
		valid_from BIGINT NOT NULL,
		valid_until BIGINT NOT NULL,
		UNIQUE (list_id, idx)
	);
	CREATE INDEX credentials_device ON credentials(device_id);
	CREATE TABLE nonces (
		nonce TEXT PRIMARY KEY,
		expires_at BIGINT NOT NULL
	);
	CREATE TABLE offers (
		code_hash TEXT PRIMARY KEY,
		device_id TEXT NOT NULL REFERENCES devices(id),
		tx_hash TEXT NOT NULL,
		configs TEXT NOT NULL,
		expires_at BIGINT NOT NULL,
		used INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE tokens (
		token_hash TEXT PRIMARY KEY,
		device_id TEXT NOT NULL REFERENCES devices(id),
		configs TEXT NOT NULL,
		expires_at BIGINT NOT NULL
	);
	CREATE TABLE remote_commands (
		id TEXT PRIMARY KEY,
		device_id TEXT NOT NULL REFERENCES devices(id),
		action TEXT NOT NULL,
		reason TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		acked_at BIGINT NOT NULL DEFAULT 0
	);
	CREATE INDEX remote_commands_device ON remote_commands(device_id);
	CREATE TABLE blocks (
		kind TEXT NOT NULL,
		value TEXT NOT NULL,
		reason TEXT NOT NULL,
		suspend_existing INTEGER NOT NULL,
		created_at BIGINT NOT NULL,
		PRIMARY KEY (kind, value)
	);
	CREATE TABLE insurance (
		person_key TEXT PRIMARY KEY,
		insurer_number TEXT NOT NULL,
		card_symbol TEXT NOT NULL,
		insured_number TEXT NOT NULL,
		branch_number TEXT NOT NULL,
		relationship INTEGER NOT NULL,
		valid_from TEXT NOT NULL,
		valid_until TEXT NOT NULL,
		copayment_percent INTEGER NOT NULL
	);
	CREATE TABLE audit (
		id {{AUTOID}},
		at BIGINT NOT NULL,
		actor TEXT NOT NULL,
		action TEXT NOT NULL,
		person_id TEXT NOT NULL,
		device_id TEXT NOT NULL,
		detail TEXT NOT NULL
	);
	CREATE INDEX audit_device ON audit(device_id);
	CREATE INDEX audit_person ON audit(person_id);
	CREATE TABLE outbox (
		id {{AUTOID}},
		event TEXT NOT NULL,
		person_id TEXT NOT NULL,
		device_id TEXT NOT NULL,
		email TEXT NOT NULL,
		payload TEXT NOT NULL,
		attempts INTEGER NOT NULL DEFAULT 0,
		next_attempt BIGINT NOT NULL,
		delivered INTEGER NOT NULL DEFAULT 0,
		last_error TEXT NOT NULL DEFAULT '',
		created_at BIGINT NOT NULL
	);
	CREATE INDEX outbox_pending ON outbox(delivered, next_attempt);`,
	// 2: the holder's opt-in to notifications of each use (reported by the
	// wallet or a verifier).
	`ALTER TABLE devices ADD COLUMN notify_use INTEGER NOT NULL DEFAULT 0`,
	// 3: wrong tx_code attempts per offer (the offer is burned at
	// store.MaxTxCodeAttempts).
	`ALTER TABLE offers ADD COLUMN tx_failures INTEGER NOT NULL DEFAULT 0`,
	// 4: links of JPKI user-authentication certificates to persons
	// (insurance registration), for online qualification confirmation.
	`CREATE TABLE auth_links (
		cert_id TEXT PRIMARY KEY,
		person_key TEXT NOT NULL,
		source TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX devices_jpki_auth ON devices(jpki_auth_serial);`,
	// 5: App Attest keys of devices enrolled with apple-appattest and the
	// last assertion counter seen (a replayed or cloned key's counter does
	// not increase).
	`CREATE TABLE app_attest_keys (
		key_id TEXT PRIMARY KEY,
		device_id TEXT NOT NULL,
		public_key {{BLOB}} NOT NULL,
		counter BIGINT NOT NULL DEFAULT 0,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX app_attest_keys_device ON app_attest_keys(device_id);`,
}
