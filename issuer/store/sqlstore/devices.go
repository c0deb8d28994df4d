package sqlstore

// Persons, card certificates, devices, their lifecycle and remote
// commands: the store.Devices role.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

func (s *Store) Enrol(ctx context.Context, p store.EnrolParams) (*store.EnrolResult, error) {
	var r store.EnrolResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := p.Now
		// Upsert the person, then lock its row: concurrent enrolments of one
		// person queue here, and the partial unique index is the backstop.
		if _, err := s.exec(ctx, tx, `INSERT INTO persons (id, person_key, created_at) VALUES (?, ?, ?) ON CONFLICT (person_key) DO NOTHING`,
			newID("per_"), p.PersonKey, ms(now)); err != nil {
			return fmt.Errorf("store: upsert person: %w", err)
		}
		if err := s.queryRow(ctx, tx, `SELECT id FROM persons WHERE person_key = ?`+s.d.LockRow, p.PersonKey).Scan(&r.PersonID); err != nil {
			return fmt.Errorf("store: lock person: %w", err)
		}
		c := p.Card
		if _, err := s.exec(ctx, tx, `INSERT INTO card_certs (id, person_id, serial, issuer, not_after, der) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
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
		if _, err := s.exec(ctx, tx, `INSERT INTO devices (id, person_id, card_cert_id, device_key, key_thumbprint, model, os_version, wallet_profile,
			platform_device_id, contact_email, jpki_sign_serial, jpki_auth_serial, state, state_reason, created_at, updated_at, valid_until, notify_use)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
		if _, err := s.exec(ctx, tx, `INSERT INTO outbox (event, person_id, device_id, email, payload, next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
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
	if _, err := s.exec(ctx, tx, `UPDATE devices SET state = ?, state_reason = ?, updated_at = ? WHERE id = ?`, state, reason, ms(now), id); err != nil {
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
		if _, err := s.exec(ctx, tx, `INSERT INTO remote_commands (id, device_id, action, reason, created_at) VALUES (?, ?, ?, ?, ?)`,
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

// deviceDest is where a row of deviceCols scans to.
type deviceDest struct {
	d              store.Device
	ca, ua, vu, nu int64
}

func (x *deviceDest) targets() []any {
	d := &x.d
	return []any{&d.ID, &d.PersonID, &d.CardCertID, &d.DeviceKey, &d.KeyThumbprint, &d.Model, &d.OSVersion, &d.WalletProfile,
		&d.PlatformDeviceID, &d.ContactEmail, &d.JPKISignSerial, &d.JPKIAuthSerial, &d.State, &d.StateReason, &x.ca, &x.ua, &x.vu, &x.nu}
}

func (x *deviceDest) done() *store.Device {
	x.d.NotifyUse = x.nu != 0
	x.d.CreatedAt, x.d.UpdatedAt, x.d.ValidUntil = fromMS(x.ca), fromMS(x.ua), fromMS(x.vu)
	return &x.d
}

func scanDevice(sc interface{ Scan(...any) error }) (*store.Device, error) {
	var d deviceDest
	if err := sc.Scan(d.targets()...); err != nil {
		return nil, err
	}
	return d.done(), nil
}

func (s *Store) Device(ctx context.Context, id string) (*store.Device, error) {
	d, err := scanDevice(s.queryRow(ctx, nil, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
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

const cardCertCols = `id, person_id, serial, issuer, not_after, der, revoked, revoked_at`

// cardCertDest is where a row of cardCertCols scans to; done fills in c
// from the columns that need converting.
type cardCertDest struct {
	c       store.CardCert
	na, ra  int64
	revoked int
}

func (d *cardCertDest) targets() []any {
	return []any{&d.c.ID, &d.c.PersonID, &d.c.Serial, &d.c.Issuer, &d.na, &d.c.DER, &d.revoked, &d.ra}
}

func (d *cardCertDest) done() *store.CardCert {
	d.c.NotAfter, d.c.Revoked, d.c.RevokedAt = fromMS(d.na), d.revoked != 0, fromMS(d.ra)
	return &d.c
}

func (s *Store) CardCert(ctx context.Context, id string) (*store.CardCert, error) {
	var c cardCertDest
	err := s.queryRow(ctx, nil, `SELECT `+cardCertCols+` FROM card_certs WHERE id = ?`, id).Scan(c.targets()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read card certificate: %w", err)
	}
	return c.done(), nil
}

// DeviceCard reads a device and its card certificate in one statement:
// the credential endpoint needs both on every call, and on PostgreSQL a
// statement is a round trip.
func (s *Store) DeviceCard(ctx context.Context, id string) (*store.Device, *store.CardCert, error) {
	var dev deviceDest
	var card cardCertDest
	err := s.queryRow(ctx, nil, `SELECT `+qualified("d", deviceCols)+`, `+qualified("c", cardCertCols)+
		` FROM devices d JOIN card_certs c ON c.id = d.card_cert_id WHERE d.id = ?`, id).
		Scan(append(dev.targets(), card.targets()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, store.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: read device and card certificate: %w", err)
	}
	return dev.done(), card.done(), nil
}

// qualified prefixes each of the comma-separated columns cols with alias.
func qualified(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
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
		err := s.queryRow(ctx, tx, `SELECT acked_at FROM remote_commands WHERE id = ? AND device_id = ?`, commandID, deviceID).Scan(&acked)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: read command: %w", err)
		}
		if acked != 0 {
			return nil
		}
		if _, err := s.exec(ctx, tx, `UPDATE remote_commands SET acked_at = ? WHERE id = ?`, ms(now), commandID); err != nil {
			return fmt.Errorf("store: ack command: %w", err)
		}
		changed = true
		return s.event(ctx, tx, store.Event{Actor: "wallet", Action: "remote_delete_acknowledged", DeviceID: deviceID, Detail: commandID}, now)
	})
	return changed, err
}
