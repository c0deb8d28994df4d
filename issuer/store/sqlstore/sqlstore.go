// Package sqlstore implements store.Store over database/sql with one schema
// and one set of queries for SQLite and PostgreSQL; a Dialect carries the
// differences. Migrations run in code when the store opens.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

// Store is a store.Store over a *sql.DB.
type Store struct {
	db *sql.DB
	d  Dialect
}

var _ store.Store = (*Store)(nil)

// New runs the migrations on db and returns the store.
func New(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the underlying database (tests use it to inspect rows).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this program (%d)", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			ddl := strings.NewReplacer("{{BLOB}}", s.d.Blob, "{{AUTOID}}", s.d.AutoID).Replace(migrations[v-1])
			for _, stmt := range strings.Split(ddl, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, ms(time.Now())); err != nil {
				return fmt.Errorf("record migration %d: %w", v, err)
			}
		}
		return nil
	})
}

func (s *Store) q(query string) string {
	if s.d.Rebind == nil {
		return query
	}
	return s.d.Rebind(query)
}

// tx runs f in a transaction, retrying on serialisation failures a few
// times.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func newID(prefix string) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// ---- nonces, offers, tokens ----

func (s *Store) PutNonce(ctx context.Context, nonce string, expires time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)`), nonce, ms(expires))
	if err != nil {
		return fmt.Errorf("store: put nonce: %w", err)
	}
	return nil
}

func (s *Store) ConsumeNonce(ctx context.Context, nonce string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM nonces WHERE nonce = ? AND expires_at > ?`), nonce, ms(now))
	if err != nil {
		return fmt.Errorf("store: consume nonce: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.ErrUsed
	}
	return nil
}

func (s *Store) Purge(ctx context.Context, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM nonces WHERE expires_at <= ?`,
			`DELETE FROM offers WHERE expires_at <= ?`,
			`DELETE FROM tokens WHERE expires_at <= ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(q), ms(now)); err != nil {
				return fmt.Errorf("store: purge: %w", err)
			}
		}
		return nil
	})
}

func (s *Store) CreateOffer(ctx context.Context, deviceID, codeHash, txHash string, configs []string, expires time.Time, ev store.Event) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.insertOffer(ctx, tx, deviceID, codeHash, txHash, configs, expires); err != nil {
			return err
		}
		return s.event(ctx, tx, ev, time.Now())
	})
}

func (s *Store) insertOffer(ctx context.Context, tx *sql.Tx, deviceID, codeHash, txHash string, configs []string, expires time.Time) error {
	cfg, _ := json.Marshal(configs)
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO offers (code_hash, device_id, tx_hash, configs, expires_at) VALUES (?, ?, ?, ?, ?)`),
		codeHash, deviceID, txHash, string(cfg), ms(expires)); err != nil {
		return fmt.Errorf("store: insert offer: %w", err)
	}
	return nil
}

func (s *Store) RedeemOffer(ctx context.Context, codeHash, txHash, tokenHash string, tokenExpires, now time.Time) (*store.Grant, error) {
	var g store.Grant
	wrongTx := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var cfg, wantTx string
		err := tx.QueryRowContext(ctx, s.q(`SELECT device_id, configs, tx_hash FROM offers WHERE code_hash = ? AND used = 0 AND expires_at > ?`), codeHash, ms(now)).
			Scan(&g.DeviceID, &cfg, &wantTx)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrUsed
		}
		if err != nil {
			return fmt.Errorf("store: read offer: %w", err)
		}
		if wantTx != txHash {
			// Count the wrong code and burn the offer at the limit, so a
			// 6-digit code cannot be guessed; committed, then reported.
			wrongTx = true
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE offers SET tx_failures = tx_failures + 1,
				used = CASE WHEN tx_failures + 1 >= ? THEN 1 ELSE used END WHERE code_hash = ?`), store.MaxTxCodeAttempts, codeHash); err != nil {
				return fmt.Errorf("store: count tx_code failure: %w", err)
			}
			return nil
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE offers SET used = 1 WHERE code_hash = ? AND used = 0`), codeHash)
		if err != nil {
			return fmt.Errorf("store: use offer: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return store.ErrUsed
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tokens (token_hash, device_id, configs, expires_at) VALUES (?, ?, ?, ?)`), tokenHash, g.DeviceID, cfg, ms(tokenExpires)); err != nil {
			return fmt.Errorf("store: insert token: %w", err)
		}
		g.ExpiresAt = tokenExpires
		return json.Unmarshal([]byte(cfg), &g.Configs)
	})
	if err != nil {
		return nil, err
	}
	if wrongTx {
		return nil, store.ErrConflict
	}
	return &g, nil
}

func (s *Store) Token(ctx context.Context, tokenHash string, now time.Time) (*store.Grant, error) {
	var g store.Grant
	var cfg string
	var exp int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT device_id, configs, expires_at FROM tokens WHERE token_hash = ? AND expires_at > ?`), tokenHash, ms(now)).Scan(&g.DeviceID, &cfg, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read token: %w", err)
	}
	g.ExpiresAt = fromMS(exp)
	return &g, json.Unmarshal([]byte(cfg), &g.Configs)
}

// ---- enrolment ----

func (s *Store) Enrol(ctx context.Context, p store.EnrolParams) (*store.EnrolResult, error) {
	var r store.EnrolResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := p.Now
		// Upsert the person, then lock its row: concurrent enrolments of one
		// person queue here, and the partial unique index is the backstop.
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO persons (id, person_key, created_at) VALUES (?, ?, ?) ON CONFLICT (person_key) DO NOTHING`),
			newID("per_"), p.PersonKey, ms(now)); err != nil {
			return fmt.Errorf("store: upsert person: %w", err)
		}
		if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM persons WHERE person_key = ?`+s.d.LockRow), p.PersonKey).Scan(&r.PersonID); err != nil {
			return fmt.Errorf("store: lock person: %w", err)
		}
		c := p.Card
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO card_certs (id, person_id, serial, issuer, not_after, der) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
			c.ID, r.PersonID, c.Serial, c.Issuer, ms(c.NotAfter), c.DER); err != nil {
			return fmt.Errorf("store: upsert card certificate: %w", err)
		}
		// Device change (機種変更): revoke the previous live device in this
		// same transaction and queue its remote delete.
		old, err := s.liveDevices(ctx, tx, `person_id = ?`, r.PersonID)
		if err != nil {
			return err
		}
		for _, id := range old {
			n, err := s.setDevice(ctx, tx, id, store.DeviceRevoked, "replaced by "+p.Device.ID, true, now)
			if err != nil {
				return err
			}
			r.ReplacedDeviceID = id
			r.RevokedCreds += n
			if err := s.event(ctx, tx, store.Event{Actor: p.Event.Actor, Action: "device_replaced", PersonID: r.PersonID, DeviceID: id,
				Detail: "revoked by enrolment of " + p.Device.ID, Notify: true, Email: p.Event.Email}, now); err != nil {
				return err
			}
		}
		d := p.Device
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO devices (id, person_id, card_cert_id, device_key, key_thumbprint, model, os_version, wallet_profile,
			platform_device_id, contact_email, jpki_sign_serial, jpki_auth_serial, state, state_reason, created_at, updated_at, valid_until, notify_use)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			d.ID, r.PersonID, c.ID, d.DeviceKey, d.KeyThumbprint, d.Model, d.OSVersion, d.WalletProfile, d.PlatformDeviceID, d.ContactEmail,
			d.JPKISignSerial, d.JPKIAuthSerial, store.DeviceActive, "", ms(now), ms(now), ms(d.ValidUntil), boolInt(d.NotifyUse)); err != nil {
			return fmt.Errorf("store: insert device: %w", err)
		}
		if err := s.insertOffer(ctx, tx, d.ID, p.OfferCodeHash, p.TxCodeHash, p.Configs, p.OfferExpires); err != nil {
			return err
		}
		ev := p.Event
		ev.PersonID, ev.DeviceID = r.PersonID, d.ID
		if err := s.event(ctx, tx, ev, now); err != nil {
			return err
		}
		if p.TxCode == "" {
			return nil
		}
		if ev.Email == "" {
			return errors.New("store: a tx_code needs the holder's contact e-mail to be delivered")
		}
		// The code goes to the outbox only, never to the audit log.
		payload, _ := json.Marshal(map[string]any{"event": store.EventTxCode, "device_id": d.ID, "tx_code": p.TxCode,
			"expires_at": p.OfferExpires.UTC().Format(time.RFC3339), "at": now.UTC().Format(time.RFC3339)})
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO outbox (event, person_id, device_id, email, payload, next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			store.EventTxCode, r.PersonID, d.ID, ev.Email, string(payload), ms(now), ms(now)); err != nil {
			return fmt.Errorf("store: outbox tx_code: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func (s *Store) liveDevices(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM devices WHERE state <> 'revoked' AND `+where+` ORDER BY created_at`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: live devices: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// setDevice moves a device to state and its credentials to the matching
// credential state, bumping the versions of the touched status lists. It
// returns the number of credentials changed.
func (s *Store) setDevice(ctx context.Context, tx *sql.Tx, id, state, reason string, queueDelete bool, now time.Time) (int, error) {
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE devices SET state = ?, state_reason = ?, updated_at = ? WHERE id = ?`), state, reason, ms(now), id); err != nil {
		return 0, fmt.Errorf("store: update device %s: %w", id, err)
	}
	var credFrom []string
	var credTo string
	switch state {
	case store.DeviceRevoked:
		credFrom, credTo = []string{store.CredentialValid, store.CredentialSuspended}, store.CredentialRevoked
	case store.DeviceSuspended:
		credFrom, credTo = []string{store.CredentialValid}, store.CredentialSuspended
	case store.DeviceActive:
		credFrom, credTo = []string{store.CredentialSuspended}, store.CredentialValid
	default:
		return 0, fmt.Errorf("store: unknown device state %q", state)
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE status_lists SET version = version + 1 WHERE id IN
		(SELECT DISTINCT list_id FROM credentials WHERE device_id = ? AND state IN (?, ?))`), id, credFrom[0], credFrom[len(credFrom)-1]); err != nil {
		return 0, fmt.Errorf("store: bump status list: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE credentials SET state = ? WHERE device_id = ? AND state IN (?, ?)`), credTo, id, credFrom[0], credFrom[len(credFrom)-1])
	if err != nil {
		return 0, fmt.Errorf("store: update credentials of %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	if queueDelete {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO remote_commands (id, device_id, action, reason, created_at) VALUES (?, ?, ?, ?, ?)`),
			newID("cmd_"), id, "delete", reason, ms(now)); err != nil {
			return 0, fmt.Errorf("store: queue remote delete: %w", err)
		}
	}
	return int(n), nil
}

func (s *Store) ChangeDevices(ctx context.Context, p store.ChangeParams) (*store.ChangeResult, error) {
	var r store.ChangeResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var where []string
		var args []any
		switch {
		case len(p.DeviceIDs) > 0:
			ph := strings.TrimSuffix(strings.Repeat("?, ", len(p.DeviceIDs)), ", ")
			where = append(where, "id IN ("+ph+")")
			for _, id := range p.DeviceIDs {
				args = append(args, id)
			}
		case p.PersonID != "":
			where, args = append(where, "person_id = ?"), append(args, p.PersonID)
		case p.CardCert != "":
			where, args = append(where, "card_cert_id = ?"), append(args, p.CardCert)
		case p.Block != nil:
			col := "model"
			if p.Block.Kind == store.BlockOS {
				col = "os_version"
			}
			where, args = append(where, col+" = ?"), append(args, p.Block.Value)
		default:
			return fmt.Errorf("store: change devices: no selector")
		}
		if len(p.From) == 0 {
			return fmt.Errorf("store: change devices: no from states")
		}
		where = append(where, "state IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(p.From)), ", ")+")")
		for _, st := range p.From {
			args = append(args, st)
		}
		if p.OnlyReason != "" {
			where, args = append(where, "state_reason = ?"), append(args, p.OnlyReason)
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id, person_id FROM devices WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at`), args...)
		if err != nil {
			return fmt.Errorf("store: select devices: %w", err)
		}
		type dp struct{ id, person string }
		var sel []dp
		for rows.Next() {
			var x dp
			if err := rows.Scan(&x.id, &x.person); err != nil {
				rows.Close()
				return err
			}
			sel = append(sel, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, x := range sel {
			n, err := s.setDevice(ctx, tx, x.id, p.To, p.Reason, p.QueueDelete, p.Now)
			if err != nil {
				return err
			}
			r.DeviceIDs = append(r.DeviceIDs, x.id)
			r.CredentialsChanged += n
			ev := p.Event
			ev.PersonID, ev.DeviceID = x.person, x.id
			if ev.Email == "" {
				tx.QueryRowContext(ctx, s.q(`SELECT contact_email FROM devices WHERE id = ?`), x.id).Scan(&ev.Email)
			}
			if err := s.event(ctx, tx, ev, p.Now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// ---- credentials and status lists ----

func (s *Store) IssueCredential(ctx context.Context, p store.IssueParams) (*store.Credential, error) {
	var c store.Credential
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var state string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT state FROM devices WHERE id = ?`+s.d.LockRow), p.DeviceID).Scan(&state); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return fmt.Errorf("store: read device: %w", err)
		}
		if state != store.DeviceActive {
			return store.ErrDeviceState
		}
		ref, err := s.allocate(ctx, tx, p.ListSize, p.Now)
		if err != nil {
			return err
		}
		if err := p.Sign(ref); err != nil {
			return err
		}
		c = store.Credential{ID: newID("cred_"), DeviceID: p.DeviceID, DocType: p.DocType, ListID: ref.ListID, Idx: ref.Idx,
			State: store.CredentialValid, IssuedAt: p.Now, ValidFrom: p.ValidFrom, ValidUntil: p.ValidUntil}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO credentials (id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), c.ID, c.DeviceID, c.DocType, c.ListID, int64(c.Idx), c.State, ms(c.IssuedAt), ms(c.ValidFrom), ms(c.ValidUntil)); err != nil {
			return fmt.Errorf("store: insert credential: %w", err)
		}
		return s.event(ctx, tx, p.Event, p.Now)
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// allocate takes the next entry of the newest list that has room, creating
// a list when none has. Entries are handed out in a permuted order
// (idx = mul·seq + add mod size, size a power of two, mul odd: a bijection)
// so that neighbouring indices do not reveal who enrolled together.
func (s *Store) allocate(ctx context.Context, tx *sql.Tx, size uint64, now time.Time) (store.StatusRef, error) {
	if size == 0 || size&(size-1) != 0 {
		return store.StatusRef{}, fmt.Errorf("store: status list size %d is not a power of two", size)
	}
	for attempt := 0; attempt < 3; attempt++ {
		var id string
		var seq, mul, add, lsize int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT id, next_seq, mul, add_, size FROM status_lists WHERE next_seq < size AND size = ? ORDER BY created_at DESC, id DESC LIMIT 1`+s.d.LockRow), int64(size)).Scan(&id, &seq, &mul, &add, &lsize)
		if errors.Is(err, sql.ErrNoRows) {
			var b [16]byte
			rand.Read(b[:])
			m := int64(binary.BigEndian.Uint64(b[:8])%size) | 1
			a := int64(binary.BigEndian.Uint64(b[8:]) % size)
			var n int
			tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_lists`).Scan(&n)
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO status_lists (id, size, next_seq, mul, add_, version, created_at) VALUES (?, ?, 0, ?, ?, 1, ?) ON CONFLICT (id) DO NOTHING`),
				fmt.Sprintf("%d", n+1), int64(size), m, a, ms(now)); err != nil {
				return store.StatusRef{}, fmt.Errorf("store: create status list: %w", err)
			}
			continue
		}
		if err != nil {
			return store.StatusRef{}, fmt.Errorf("store: read status list: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE status_lists SET next_seq = next_seq + 1, version = version + 1 WHERE id = ?`), id); err != nil {
			return store.StatusRef{}, fmt.Errorf("store: advance status list: %w", err)
		}
		idx := (uint64(mul)*uint64(seq) + uint64(add)) & (uint64(lsize) - 1)
		return store.StatusRef{ListID: id, Idx: idx}, nil
	}
	return store.StatusRef{}, store.ErrListExhausted
}

func (s *Store) Credentials(ctx context.Context, deviceID string) ([]store.Credential, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until FROM credentials WHERE device_id = ? ORDER BY issued_at, id`), deviceID)
	if err != nil {
		return nil, fmt.Errorf("store: credentials: %w", err)
	}
	defer rows.Close()
	var out []store.Credential
	for rows.Next() {
		var c store.Credential
		var idx, ia, vf, vu int64
		if err := rows.Scan(&c.ID, &c.DeviceID, &c.DocType, &c.ListID, &idx, &c.State, &ia, &vf, &vu); err != nil {
			return nil, err
		}
		c.Idx, c.IssuedAt, c.ValidFrom, c.ValidUntil = uint64(idx), fromMS(ia), fromMS(vf), fromMS(vu)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) CredentialByStatus(ctx context.Context, listID string, idx uint64) (*store.Credential, error) {
	var c store.Credential
	var i, ia, vf, vu int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until FROM credentials WHERE list_id = ? AND idx = ?`),
		listID, int64(idx)).Scan(&c.ID, &c.DeviceID, &c.DocType, &c.ListID, &i, &c.State, &ia, &vf, &vu)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: credential by status: %w", err)
	}
	c.Idx, c.IssuedAt, c.ValidFrom, c.ValidUntil = uint64(i), fromMS(ia), fromMS(vf), fromMS(vu)
	return &c, nil
}

func (s *Store) StatusEntries(ctx context.Context, listID string) (int64, map[uint64]string, error) {
	var version int64
	entries := map[uint64]string{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.q(`SELECT version FROM status_lists WHERE id = ?`), listID).Scan(&version); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return fmt.Errorf("store: read status list: %w", err)
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT idx, state FROM credentials WHERE list_id = ? AND state <> 'valid'`), listID)
		if err != nil {
			return fmt.Errorf("store: status entries: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var idx int64
			var st string
			if err := rows.Scan(&idx, &st); err != nil {
				return err
			}
			entries[uint64(idx)] = st
		}
		return rows.Err()
	})
	return version, entries, err
}

func (s *Store) StatusListVersion(ctx context.Context, listID string) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT version FROM status_lists WHERE id = ?`), listID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	return v, err
}

func (s *Store) StatusLists(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM status_lists ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ---- lookups ----

func (s *Store) Person(ctx context.Context, id string) (*store.Person, error) {
	return s.person(ctx, `id = ?`, id)
}

func (s *Store) PersonByKey(ctx context.Context, key string) (*store.Person, error) {
	return s.person(ctx, `person_key = ?`, key)
}

func (s *Store) person(ctx context.Context, where string, arg any) (*store.Person, error) {
	var p store.Person
	var ca int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, person_key, created_at FROM persons WHERE `+where), arg).Scan(&p.ID, &p.Key, &ca)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read person: %w", err)
	}
	p.CreatedAt = fromMS(ca)
	return &p, nil
}

const deviceCols = `id, person_id, card_cert_id, device_key, key_thumbprint, model, os_version, wallet_profile, platform_device_id,
	contact_email, jpki_sign_serial, jpki_auth_serial, state, state_reason, created_at, updated_at, valid_until, notify_use`

func scanDevice(sc interface{ Scan(...any) error }) (*store.Device, error) {
	var d store.Device
	var ca, ua, vu, nu int64
	if err := sc.Scan(&d.ID, &d.PersonID, &d.CardCertID, &d.DeviceKey, &d.KeyThumbprint, &d.Model, &d.OSVersion, &d.WalletProfile,
		&d.PlatformDeviceID, &d.ContactEmail, &d.JPKISignSerial, &d.JPKIAuthSerial, &d.State, &d.StateReason, &ca, &ua, &vu, &nu); err != nil {
		return nil, err
	}
	d.NotifyUse = nu != 0
	d.CreatedAt, d.UpdatedAt, d.ValidUntil = fromMS(ca), fromMS(ua), fromMS(vu)
	return &d, nil
}

func (s *Store) Device(ctx context.Context, id string) (*store.Device, error) {
	d, err := scanDevice(s.db.QueryRowContext(ctx, s.q(`SELECT `+deviceCols+` FROM devices WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read device: %w", err)
	}
	return d, nil
}

func (s *Store) Devices(ctx context.Context, personID string, limit int) ([]store.Device, error) {
	if limit <= 0 {
		limit = 100
	}
	q, args := `SELECT `+deviceCols+` FROM devices`, []any{}
	if personID != "" {
		q, args = q+` WHERE person_id = ?`, append(args, personID)
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id LIMIT %d`, limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list devices: %w", err)
	}
	defer rows.Close()
	var out []store.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

func (s *Store) CardCert(ctx context.Context, id string) (*store.CardCert, error) {
	var c store.CardCert
	var na, ra int64
	var rev int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, person_id, serial, issuer, not_after, der, revoked, revoked_at FROM card_certs WHERE id = ?`), id).
		Scan(&c.ID, &c.PersonID, &c.Serial, &c.Issuer, &na, &c.DER, &rev, &ra)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read card certificate: %w", err)
	}
	c.NotAfter, c.Revoked, c.RevokedAt = fromMS(na), rev != 0, fromMS(ra)
	return &c, nil
}

func (s *Store) LiveCardCerts(ctx context.Context) ([]store.CardCert, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT c.id, c.person_id, c.serial, c.issuer, c.not_after, c.der FROM card_certs c
		JOIN devices d ON d.card_cert_id = c.id WHERE d.state <> 'revoked' AND c.revoked = 0`)
	if err != nil {
		return nil, fmt.Errorf("store: live card certificates: %w", err)
	}
	defer rows.Close()
	var out []store.CardCert
	for rows.Next() {
		var c store.CardCert
		var na int64
		if err := rows.Scan(&c.ID, &c.PersonID, &c.Serial, &c.Issuer, &na, &c.DER); err != nil {
			return nil, err
		}
		c.NotAfter = fromMS(na)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) MarkCardRevoked(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE card_certs SET revoked = 1, revoked_at = ? WHERE id = ? AND revoked = 0`), ms(at), id)
	if err != nil {
		return fmt.Errorf("store: mark card revoked: %w", err)
	}
	return nil
}

// ---- blocks ----

func (s *Store) PutBlock(ctx context.Context, b store.Block, ev store.Event) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		sus := 0
		if b.SuspendExisting {
			sus = 1
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO blocks (kind, value, reason, suspend_existing, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, suspend_existing = excluded.suspend_existing`),
			b.Kind, b.Value, b.Reason, sus, ms(b.CreatedAt)); err != nil {
			return fmt.Errorf("store: put block: %w", err)
		}
		return s.event(ctx, tx, ev, b.CreatedAt)
	})
}

func (s *Store) DeleteBlock(ctx context.Context, kind, value string, ev store.Event) (bool, error) {
	var changed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM blocks WHERE kind = ? AND value = ?`), kind, value)
		if err != nil {
			return fmt.Errorf("store: delete block: %w", err)
		}
		n, _ := res.RowsAffected()
		changed = n > 0
		if !changed {
			return nil
		}
		return s.event(ctx, tx, ev, time.Now())
	})
	return changed, err
}

func (s *Store) Blocks(ctx context.Context) ([]store.Block, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, value, reason, suspend_existing, created_at FROM blocks ORDER BY kind, value`)
	if err != nil {
		return nil, fmt.Errorf("store: blocks: %w", err)
	}
	defer rows.Close()
	var out []store.Block
	for rows.Next() {
		var b store.Block
		var sus int
		var ca int64
		if err := rows.Scan(&b.Kind, &b.Value, &b.Reason, &sus, &ca); err != nil {
			return nil, err
		}
		b.SuspendExisting, b.CreatedAt = sus != 0, fromMS(ca)
		out = append(out, b)
	}
	return out, rows.Err()
}

// ---- remote commands ----

func (s *Store) PendingCommands(ctx context.Context, deviceID string) ([]store.RemoteCommand, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, device_id, action, reason, created_at FROM remote_commands WHERE device_id = ? AND acked_at = 0 ORDER BY created_at, id`), deviceID)
	if err != nil {
		return nil, fmt.Errorf("store: pending commands: %w", err)
	}
	defer rows.Close()
	var out []store.RemoteCommand
	for rows.Next() {
		var c store.RemoteCommand
		var ca int64
		if err := rows.Scan(&c.ID, &c.DeviceID, &c.Action, &c.Reason, &ca); err != nil {
			return nil, err
		}
		c.CreatedAt = fromMS(ca)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) AckCommand(ctx context.Context, deviceID, commandID string, now time.Time) (bool, error) {
	var changed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var acked int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT acked_at FROM remote_commands WHERE id = ? AND device_id = ?`), commandID, deviceID).Scan(&acked)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: read command: %w", err)
		}
		if acked != 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE remote_commands SET acked_at = ? WHERE id = ?`), ms(now), commandID); err != nil {
			return fmt.Errorf("store: ack command: %w", err)
		}
		changed = true
		return s.event(ctx, tx, store.Event{Actor: "wallet", Action: "remote_delete_acknowledged", DeviceID: deviceID, Detail: commandID}, now)
	})
	return changed, err
}

// ---- insurance ----

func (s *Store) PutInsurance(ctx context.Context, rows []store.Insurance, ev store.Event) (int, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO insurance (person_key, insurer_number, card_symbol, insured_number, branch_number, relationship, valid_from, valid_until, copayment_percent)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (person_key) DO UPDATE SET insurer_number = excluded.insurer_number, card_symbol = excluded.card_symbol,
				insured_number = excluded.insured_number, branch_number = excluded.branch_number, relationship = excluded.relationship,
				valid_from = excluded.valid_from, valid_until = excluded.valid_until, copayment_percent = excluded.copayment_percent`),
				r.PersonKey, r.InsurerNumber, r.InsuredCardSymbol, r.InsuredNumber, r.InsuredBranchNumber, r.InsuredRelationship,
				r.QualificationFrom, r.QualificationUntil, r.CopaymentRatioPercent); err != nil {
				return fmt.Errorf("store: put insurance: %w", err)
			}
		}
		return s.event(ctx, tx, ev, time.Now())
	})
	if err != nil {
		return 0, err
	}
	return len(rows), nil
}

func (s *Store) Insurance(ctx context.Context, personKey string) (*store.Insurance, error) {
	var r store.Insurance
	err := s.db.QueryRowContext(ctx, s.q(`SELECT person_key, insurer_number, card_symbol, insured_number, branch_number, relationship, valid_from, valid_until, copayment_percent
		FROM insurance WHERE person_key = ?`), personKey).Scan(&r.PersonKey, &r.InsurerNumber, &r.InsuredCardSymbol, &r.InsuredNumber,
		&r.InsuredBranchNumber, &r.InsuredRelationship, &r.QualificationFrom, &r.QualificationUntil, &r.CopaymentRatioPercent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read insurance: %w", err)
	}
	return &r, nil
}

// ---- audit and outbox ----

func (s *Store) AddEvent(ctx context.Context, ev store.Event, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.event(ctx, tx, ev, now) })
}

// event writes the audit row and, when asked, the outbox row of ev in tx.
func (s *Store) event(ctx context.Context, tx *sql.Tx, ev store.Event, now time.Time) error {
	if ev.Action == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO audit (at, actor, action, person_id, device_id, detail) VALUES (?, ?, ?, ?, ?, ?)`),
		ms(now), ev.Actor, ev.Action, ev.PersonID, ev.DeviceID, ev.Detail); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	if !ev.Notify {
		return nil
	}
	payload, _ := json.Marshal(map[string]any{
		"event": ev.Action, "actor": ev.Actor, "person_id": ev.PersonID, "device_id": ev.DeviceID, "detail": ev.Detail, "at": now.UTC().Format(time.RFC3339),
	})
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO outbox (event, person_id, device_id, email, payload, next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		ev.Action, ev.PersonID, ev.DeviceID, ev.Email, string(payload), ms(now), ms(now)); err != nil {
		return fmt.Errorf("store: outbox: %w", err)
	}
	return nil
}

func (s *Store) Audit(ctx context.Context, deviceID, personID string, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	q, args := `SELECT id, at, actor, action, person_id, device_id, detail FROM audit`, []any{}
	var where []string
	if deviceID != "" {
		where, args = append(where, "device_id = ?"), append(args, deviceID)
	}
	if personID != "" {
		where, args = append(where, "person_id = ?"), append(args, personID)
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.PersonID, &e.DeviceID, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) PendingNotifications(ctx context.Context, now time.Time, limit int) ([]store.Notification, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT id, event, person_id, device_id, email, payload, attempts, next_attempt, last_error, created_at
		FROM outbox WHERE delivered = 0 AND next_attempt <= ? ORDER BY id LIMIT %d`, limit)), ms(now))
	if err != nil {
		return nil, fmt.Errorf("store: pending notifications: %w", err)
	}
	defer rows.Close()
	var out []store.Notification
	for rows.Next() {
		var n store.Notification
		var na, ca int64
		if err := rows.Scan(&n.ID, &n.Event, &n.PersonID, &n.DeviceID, &n.Email, &n.Payload, &n.Attempts, &na, &n.LastError, &ca); err != nil {
			return nil, err
		}
		n.NextAttempt, n.CreatedAt = fromMS(na), fromMS(ca)
		out = append(out, n)
	}
	return out, rows.Err()
}

func (s *Store) MarkNotification(ctx context.Context, id int64, delivered bool, lastErr string, next time.Time) error {
	d := 0
	if delivered {
		d = 1
	}
	// A tx_code is a secret: once delivered (or given up on) its payload is
	// erased, so the outbox does not keep usable codes.
	scrub := 0
	if delivered || strings.HasPrefix(lastErr, "abandoned") {
		scrub = 1
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE outbox SET delivered = ?, attempts = attempts + 1, last_error = ?, next_attempt = ?,
		payload = CASE WHEN event = ? AND ? = 1 THEN '{}' ELSE payload END WHERE id = ?`), d, lastErr, ms(next), store.EventTxCode, scrub, id)
	if err != nil {
		return fmt.Errorf("store: mark notification: %w", err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Store) PutAppAttestKey(ctx context.Context, k store.AppAttestKey) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO app_attest_keys (key_id, device_id, public_key, counter, created_at) VALUES (?, ?, ?, ?, ?)`),
		k.KeyID, k.DeviceID, k.PublicKey, int64(k.Counter), ms(k.CreatedAt)); err != nil {
		return fmt.Errorf("store: app attest key: %w", err)
	}
	return nil
}

func (s *Store) AppAttestKey(ctx context.Context, deviceID string) (*store.AppAttestKey, error) {
	var k store.AppAttestKey
	var c, at int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT key_id, device_id, public_key, counter, created_at FROM app_attest_keys WHERE device_id = ? ORDER BY created_at DESC, key_id LIMIT 1`), deviceID).
		Scan(&k.KeyID, &k.DeviceID, &k.PublicKey, &c, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read app attest key: %w", err)
	}
	k.Counter, k.CreatedAt = uint32(c), fromMS(at)
	return &k, nil
}

func (s *Store) AdvanceAppAttestCounter(ctx context.Context, keyID string, counter uint32) error {
	// One conditional UPDATE: two requests with the same counter cannot
	// both pass.
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE app_attest_keys SET counter = ? WHERE key_id = ? AND counter < ?`), int64(counter), keyID, int64(counter))
	if err != nil {
		return fmt.Errorf("store: advance app attest counter: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var one int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM app_attest_keys WHERE key_id = ?`), keyID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return store.ErrConflict
}
