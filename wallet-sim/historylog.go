package walletsim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
)

// The history lives apart from the sealed data file, in an append-only log:
// a presentation appends one line instead of re-encoding and rewriting the
// whole bounded history with the profile and credentials, as a phone
// wallet appends a row to its history table.
//
// File format (HistoryLog in the wallet home): one entry per line,
//
//	base64(SealData("wallet-history", json(logRecord))) "\n"
//
// with the standard base64 alphabet and padding. Each record carries its
// sequence number (one more than the previous line's) and the SHA-256 of the
// previous line as stored (its base64 text, without the newline); the first
// line of the file has no prev. So reordered, dropped or duplicated lines
// break the chain, a line sealed by another wallet's element does not
// unseal, and removing lines from the head leaves a first line with a prev.
// The log is as durable as the data file: every append is fsynced before it
// returns.
//
// The chain alone cannot tell a log cut back by whole lines, or an older
// copy of the whole log put back, from one whose later appends never
// happened. So the sealed data file anchors the log: every save records
// the log's head then (data.HistoryHead: sequence number and hash of the
// last good line), and a log that does not reach that head — fewer lines,
// or another line at the anchor's sequence number — is CodeHistoryCorrupt
// ("behind the wallet data: N line(s) missing", "does not continue"). A
// log ahead of the anchor is sound: appends since the last save, or a
// crash between an append and the save after it. While the log is known
// damaged, saves keep the anchor they found: it is the evidence, and
// ResetHistory is the way out. A data file written before the anchor has
// none: any log is accepted until the next save writes one.
//
// A log rewritten whole (compaction, the reseal after a remote delete, a
// reset) hashes differently line by line, so the anchor on disk names none
// of its lines. Its first line names that anchor instead
// (logRecord.Replaces): the wallet seals it only after checking that the
// log it replaces extends that anchor, or on purpose (the reseal, a
// reset), so a log naming the data file's anchor is consistent with it
// however its lines hash. The data file need not be written in the same
// step: a crash before the rewrite leaves the old log, after it the new
// one, each consistent with the anchor, and the next save anchors the new
// log.
//
// What is still not detected: entries appended after the last save and
// then cut off (the anchor lags the log by the appends since the last
// save, and a presentation saves before it appends); and the data file
// and the log rolled back together to an older copy of both (the whole
// home restored from a backup). That needs a counter the files cannot be
// rolled back with, in hardware (a replay-protected memory block); the
// simulated secure element keeps all of its state, retry counters too, in
// files of the same home, so a counter there would roll back with them.
//
// A crash mid-append leaves a torn final line: no trailing newline, or
// bytes that are not base64 (a file system may extend the file before its
// data reaches the disk). It is ignored with a warning and cut off before
// the next append; it never blocks opening the wallet. A torn line the
// anchor covers is a line missing: it was synced before that save. Any
// other damage is CodeHistoryCorrupt from History, and presenting goes on.
//
// ResetHistory is the holder's way out of a damaged log: the old log is
// kept beside the new one under a timestamped name (a hard link, then the
// new log written atomically over the old name), and the new log starts
// with an entry recording the reset and the damage found.
//
// When the log holds more than 2×MaxHistory lines it is compacted: the last
// MaxHistory entries, with their sequence numbers, are re-chained into a
// new file written atomically (fsx.WriteFile), so the cost is amortised
// over MaxHistory appends. The same rewrite moves the history of a data
// file written before the log existed, and the same encoding reseals the
// log under the new device key of a remote delete, staged beside the log
// before the key is rotated and renamed over it after (finishRemoteDelete).
const (
	historyPurpose = "wallet-history"
	// maxHistoryLine bounds one line read back or written; an entry that
	// would be longer is recorded without its documents.
	maxHistoryLine = 1 << 20
)

// logRecord is the sealed content of one history line.
type logRecord struct {
	Seq  uint64 `json:"seq"`
	Prev []byte `json:"prev,omitempty"`
	// Replaces is set on the first line of a log rewritten whole
	// (compaction, reseal, reset): the anchor the data file held when it
	// was written, which this log succeeds although its lines hash
	// differently (see checkAnchor).
	Replaces *historyHead `json:"replaces,omitempty"`
	Entry    HistoryEntry `json:"entry"`
}

// historyHead names one line of the log: its sequence number and the
// SHA-256 of the line as stored (what historyLog keeps as seq and prev).
// The data file records the log's head as its anchor at every save; Seq 0
// is an empty log.
type historyHead struct {
	Seq  uint64 `json:"seq"`
	Hash []byte `json:"hash,omitempty"`
}

func (h *historyHead) equal(o *historyHead) bool {
	return h != nil && o != nil && h.Seq == o.Seq && bytes.Equal(h.Hash, o.Hash)
}

// sealer is the part of the secure element the log needs (*se.Element);
// tests substitute a transparent one to fuzz the decoder.
type sealer interface {
	SealData(purpose string, data []byte) ([]byte, error)
	OpenData(purpose string, sealed []byte) ([]byte, error)
}

// historyLog is the wallet's view of its log: where the next line goes and
// what it chains to. Guarded by Wallet.mu.
type historyLog struct {
	path  string
	seq   uint64 // of the last good line; 0 when the log is empty
	prev  []byte // SHA-256 of the last good line; nil when the log is empty
	lines int    // good lines
	size  int64  // bytes of the good lines
	// torn is set when bytes follow the good lines (a torn final line, or
	// a failed append): they are cut off before the next append.
	torn bool
	// corrupt is the error found when the log was read: appends go on at
	// the end of the file, compaction is off (it would hide the damage).
	corrupt error
	// legacy is the history of a data file written before the log
	// existed, not yet moved into it (see migrate).
	legacy []HistoryEntry
	// anchor is the head the data file on disk records: set by load and
	// by each save that succeeds (fsx.WriteFile fails only before its
	// rename, so a failed save leaves the previous anchor on disk). nil
	// for a data file written before anchors existed.
	anchor *historyHead
}

// head is the anchor a save records. While the log is known damaged the
// anchor on disk is kept: it is the evidence of the damage (a tail cut,
// say), and recording the damaged log's head instead would make the next
// open find a sound log. ResetHistory moves it on.
func (hl *historyLog) head() *historyHead {
	if hl.corrupt != nil {
		return hl.anchor
	}
	return &historyHead{Seq: hl.seq, Hash: hl.prev}
}

// logScan is what decodeHistoryLog read.
type logScan struct {
	entries []HistoryEntry // the last keep entries, oldest first
	seq     uint64
	prev    []byte
	lines   int
	size    int64 // bytes of the good lines
	torn    bool  // a torn final line follows them
	// replaces is the first line's Replaces; atAnchor the hash of the
	// line whose sequence number is the anchor's, nil when none is.
	replaces *historyHead
	atAnchor []byte
}

func lineHash(line []byte) []byte {
	h := sha256.Sum256(line)
	return h[:]
}

func corruptHistory(format string, args ...any) *Error {
	return newErr("history", CodeHistoryCorrupt, format, args...)
}

// decodeHistoryLog reads a log from r, keeping its last keep entries, and
// checks that it extends anchor, the head the data file recorded (nil: no
// check). It reads r once, line by line, so the log's size is not bounded,
// only its lines' (maxHistoryLine). On damage it returns what it read
// before it with an *Error of CodeHistoryCorrupt.
func decodeHistoryLog(r io.Reader, s sealer, keep int, anchor *historyHead) (*logScan, error) {
	sc, err := readHistoryLog(r, s, keep, anchor)
	if err == nil {
		err = sc.checkAnchor(anchor)
	}
	return sc, err
}

func readHistoryLog(r io.Reader, s sealer, keep int, anchor *historyHead) (*logScan, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	sc := &logScan{}
	for {
		line, err := readLine(br)
		if err != nil && err != io.EOF {
			return sc, &Error{Op: "history", Code: CodeHistoryCorrupt, Detail: fmt.Sprintf("line %d", sc.lines+1), Err: err}
		}
		if len(line) == 0 {
			return sc, nil
		}
		if line[len(line)-1] != '\n' {
			// The last append did not finish: no newline after it.
			sc.torn = true
			return sc, nil
		}
		text := line[:len(line)-1]
		sealed, derr := base64.StdEncoding.DecodeString(string(text))
		if derr != nil {
			if isEOF(br) {
				// Not base64: what a crash leaves when the file grew
				// before its data was written.
				sc.torn = true
				return sc, nil
			}
			return sc, corruptHistory("line %d is not base64", sc.lines+1)
		}
		pt, oerr := s.OpenData(historyPurpose, sealed)
		if oerr != nil {
			return sc, &Error{Op: "history", Code: CodeHistoryCorrupt, Detail: fmt.Sprintf("line %d does not unseal (another wallet's, or modified)", sc.lines+1), Err: oerr}
		}
		var rec logRecord
		if err := json.Unmarshal(pt, &rec); err != nil {
			return sc, &Error{Op: "history", Code: CodeHistoryCorrupt, Detail: fmt.Sprintf("line %d", sc.lines+1), Err: err}
		}
		switch {
		case sc.lines == 0 && rec.Prev != nil:
			return sc, corruptHistory("the log starts at entry %d, whose predecessors are missing", rec.Seq)
		case sc.lines > 0 && (rec.Seq != sc.seq+1 || !bytes.Equal(rec.Prev, sc.prev)):
			return sc, corruptHistory("line %d (entry %d) does not follow entry %d: lines were removed, reordered or inserted", sc.lines+1, rec.Seq, sc.seq)
		}
		if sc.lines == 0 {
			sc.replaces = rec.Replaces
		}
		sc.seq, sc.prev = rec.Seq, lineHash(text)
		if anchor != nil && rec.Seq == anchor.Seq {
			sc.atAnchor = sc.prev
		}
		sc.lines++
		sc.size += int64(len(line))
		if keep > 0 {
			if len(sc.entries) == 2*keep {
				sc.entries = append(sc.entries[:0], sc.entries[keep:]...)
			}
			sc.entries = append(sc.entries, rec.Entry)
		}
	}
}

// checkAnchor reports a sound log that does not extend anchor, the head
// the data file recorded at its last save: lines cut off its end, or an
// older or another copy of the whole log put back. A log ahead of the
// anchor (appends since the last save, or a crash between an append and
// the save after it) extends it.
func (sc *logScan) checkAnchor(anchor *historyHead) error {
	switch {
	case anchor == nil || anchor.Seq == 0:
		// A data file from before anchors, or saved while the log was
		// empty: every log extends it.
		return nil
	case anchor.equal(sc.replaces):
		// Rewritten whole since that save (compaction, the reseal after a
		// remote delete, a reset): its lines hash differently, and its
		// first line names the anchor it succeeds. Only the wallet could
		// seal that line, and only while that anchor was on disk.
		return nil
	case sc.seq < anchor.Seq:
		return corruptHistory("history log is behind the wallet data: %d line(s) missing from its end (it ends at entry %d, the data was saved after entry %d): lines were cut off, or an older copy of the log was put back", anchor.Seq-sc.seq, sc.seq, anchor.Seq)
	case !bytes.Equal(sc.atAnchor, anchor.Hash):
		return corruptHistory("history log does not continue the one the wallet data was saved with: its entry %d is not the one recorded (an older or another copy of the log was put back and written to)", anchor.Seq)
	}
	return nil
}

// last returns the scan's last keep entries.
func (sc *logScan) last(keep int) []HistoryEntry {
	if len(sc.entries) > keep {
		return sc.entries[len(sc.entries)-keep:]
	}
	return sc.entries
}

func isEOF(br *bufio.Reader) bool {
	_, err := br.Peek(1)
	return err == io.EOF
}

var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxHistoryLine)

// readLine returns the next line with its newline, or without one at the
// end of r; at most maxHistoryLine bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxHistoryLine+1 {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// encodeHistoryLine seals one record as a line, without its newline. An
// entry too large for a line (a reader can ask for many elements) keeps
// its outcome and loses its documents.
func encodeHistoryLine(s sealer, rec logRecord) ([]byte, error) {
	e := &rec.Entry
	for range 2 {
		pt, err := json.Marshal(&rec)
		if err != nil {
			return nil, fmt.Errorf("walletsim: encode history entry: %w", err)
		}
		sealed, err := s.SealData(historyPurpose, pt)
		if err != nil {
			return nil, fmt.Errorf("walletsim: seal history entry: %w", err)
		}
		if n := base64.StdEncoding.EncodedLen(len(sealed)); n <= maxHistoryLine {
			line := make([]byte, n)
			base64.StdEncoding.Encode(line, sealed)
			return line, nil
		}
		e.Documents, e.ReaderRoles = nil, nil
		if len(e.Detail) > 1024 {
			e.Detail = e.Detail[:1024]
		}
		e.Detail += " (entry too large for the history log: documents not kept)"
	}
	return nil, errors.New("walletsim: history entry too large")
}

// openHistory reads the log of a wallet being opened. Damage is logged,
// kept for History and appends, and never fails the open.
func (w *Wallet) openHistory() {
	sc, err := w.scanHistory(0)
	if err != nil {
		w.log.Warn("wallet history log damaged; History reports it, presenting goes on", "err", err)
	}
	w.hl.seq, w.hl.prev, w.hl.lines, w.hl.size, w.hl.torn, w.hl.corrupt = sc.seq, sc.prev, sc.lines, sc.size, sc.torn, err
	if sc.torn {
		w.log.Warn("wallet history log ends with a torn line (an append was interrupted); it is ignored and cut off at the next append", "path", w.hl.path, "good_lines", sc.lines)
	}
}

// scanHistory reads the log file, keeping its last keep entries; a
// missing file is an empty log.
func (w *Wallet) scanHistory(keep int) (*logScan, error) {
	f, err := os.Open(w.hl.path)
	if errors.Is(err, os.ErrNotExist) {
		sc := &logScan{}
		return sc, sc.checkAnchor(w.hl.anchor)
	}
	if err != nil {
		return &logScan{}, &Error{Op: "history", Code: CodeHistoryCorrupt, Detail: "open log", Err: err}
	}
	defer f.Close()
	return decodeHistoryLog(f, w.el, keep, w.hl.anchor)
}

// appendHistory appends e to the log, fsynced, and compacts the log when it
// has grown past 2×MaxHistory lines. Callers hold w.mu.
func (w *Wallet) appendHistory(e HistoryEntry) error {
	if w.hl.legacy != nil {
		// Move the old history and drop it from the data file now, once,
		// rather than warn at every open until something else saves.
		if err := w.save(); err != nil {
			return err
		}
	}
	hl := &w.hl
	line, err := encodeHistoryLine(w.el, logRecord{Seq: hl.seq + 1, Prev: hl.prev, Entry: e})
	if err != nil {
		return err
	}
	if hl.lines == 0 && hl.corrupt == nil {
		// A new (or only torn) log: write it whole, so that its directory
		// entry is durable too.
		if err := fsx.WriteFile(hl.path, append(line, '\n'), 0o600); err != nil {
			return fmt.Errorf("walletsim: save history: %w", err)
		}
	} else if err := w.appendLine(line); err != nil {
		return err
	}
	hl.seq, hl.prev = hl.seq+1, lineHash(line)
	hl.lines++
	hl.size += int64(len(line)) + 1
	hl.torn = false
	if hl.lines > 2*MaxHistory {
		if hl.corrupt != nil {
			w.log.Warn("wallet history log damaged: not compacted", "lines", hl.lines, "err", hl.corrupt)
			return nil
		}
		sc, err := w.scanHistory(MaxHistory)
		if err != nil {
			// Damaged since it was opened: keep it as it is.
			hl.corrupt = err
			w.log.Warn("wallet history log damaged: not compacted", "err", err)
			return nil
		}
		// The scan checked that the log extends the data file's anchor, so
		// the compacted log may name it as the head it succeeds: the
		// data file needs no write, and a crash leaves either log, each
		// consistent with it.
		if err := w.rewriteHistory(sc.last(MaxHistory), sc.seq, hl.anchor); err != nil {
			// The entry is in the log: only the compaction failed. The
			// rewrite is atomic and changes w.hl only once written, so
			// the long log stays valid and the next append tries again.
			w.log.Warn("history saved; compaction failed", "lines", hl.lines, "err", err)
		}
	}
	return nil
}

func (w *Wallet) appendLine(line []byte) error {
	hl := &w.hl
	if hl.torn && hl.corrupt == nil {
		if err := os.Truncate(hl.path, hl.size); err != nil {
			return fmt.Errorf("walletsim: cut torn history line: %w", err)
		}
		hl.torn = false
	}
	f, err := os.OpenFile(hl.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("walletsim: save history: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// Part of the line may be there: cut it before the next append.
		hl.torn = true
		return fmt.Errorf("walletsim: save history: %w", err)
	}
	return nil
}

// rewriteHistory replaces the log with entries, the last of which has
// sequence number lastSeq, sealed under the element's current device key
// and re-chained from an empty prev, atomically. Its first line names
// replaces, the anchor on disk it succeeds (w.hl.anchor, nil when there is
// none), so that the log is consistent with the data file before the next
// save records its new head, and after a crash that comes first.
func (w *Wallet) rewriteHistory(entries []HistoryEntry, lastSeq uint64, replaces *historyHead) error {
	b, head, err := encodeHistoryLog(w.el, entries, lastSeq, replaces)
	if err != nil {
		return err
	}
	if err := w.step("rewrite history"); err != nil {
		return fmt.Errorf("walletsim: rewrite history: %w", err)
	}
	if err := fsx.WriteFile(w.hl.path, b, 0o600); err != nil {
		return fmt.Errorf("walletsim: rewrite history: %w", err)
	}
	w.hl.setLog(head, len(entries), len(b))
	return nil
}

// setLog makes hl describe a log just written whole: lines good lines of
// size bytes in all, ending at head.
func (hl *historyLog) setLog(head historyHead, lines, size int) {
	hl.seq, hl.prev, hl.lines, hl.size = head.Seq, head.Hash, lines, int64(size)
	hl.torn, hl.corrupt = false, nil
}

// encodeHistoryLog seals entries as a whole log for rewriteHistory (see
// there) with s, and returns it with its head.
func encodeHistoryLog(s sealer, entries []HistoryEntry, lastSeq uint64, replaces *historyHead) ([]byte, historyHead, error) {
	var buf bytes.Buffer
	var prev []byte
	seq := lastSeq - uint64(len(entries))
	for i, e := range entries {
		seq++
		rec := logRecord{Seq: seq, Prev: prev, Entry: e}
		if i == 0 && replaces != nil && replaces.Seq > 0 {
			rec.Replaces = replaces
		}
		line, err := encodeHistoryLine(s, rec)
		if err != nil {
			return nil, historyHead{}, err
		}
		buf.Write(line)
		buf.WriteByte('\n')
		prev = lineHash(line)
	}
	return buf.Bytes(), historyHead{Seq: seq, Hash: prev}, nil
}

// firstLineOpens reports whether the log at path starts with a line the
// current device key unseals: a log resealed by a committed wipe does, one
// from before it or staged under a key the element discarded does not. A
// missing or empty file does not.
func (w *Wallet) firstLineOpens(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	line, err := readLine(bufio.NewReader(f))
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	sealed, err := base64.StdEncoding.DecodeString(string(bytes.TrimSuffix(line, []byte("\n"))))
	if err != nil || len(sealed) == 0 {
		return false, nil
	}
	_, err = w.el.OpenData(historyPurpose, sealed)
	return err == nil, nil
}

// migrateHistory moves the history of a data file written before the log
// existed into a new log, before anything else is written: the log is
// written whole first, so a crash before the data file is rewritten leaves
// a log whose presence says the data's history is already moved (load).
// Callers hold w.mu.
func (w *Wallet) migrateHistory() error {
	if w.hl.legacy == nil {
		return nil
	}
	// (A data file with history inside has no anchor: w.hl.anchor is nil.)
	if err := w.rewriteHistory(w.hl.legacy, uint64(len(w.hl.legacy)), w.hl.anchor); err != nil {
		return err
	}
	w.log.Info("wallet history moved from the data file to its log", "entries", len(w.hl.legacy))
	w.hl.legacy = nil
	return nil
}

// readHistory returns the last MaxHistory entries. Callers hold w.mu.
func (w *Wallet) readHistory() ([]HistoryEntry, error) {
	if w.hl.legacy != nil {
		return append([]HistoryEntry(nil), w.hl.legacy...), nil
	}
	sc, err := w.scanHistory(MaxHistory)
	return append([]HistoryEntry(nil), sc.last(MaxHistory)...), err
}

// HistoryReset is what ResetHistory did.
type HistoryReset struct {
	// KeptAs is the path the previous log is kept at, beside the new one;
	// "" when there was no log file.
	KeptAs string `json:"kept_as,omitempty"`
	// Reason is the damage found, or that a sound log was reset by force.
	Reason string `json:"reason"`
	// Entry is the new log's first entry, which records the reset.
	Entry HistoryEntry `json:"entry"`
}

// ResetHistory starts a new history log in place of a damaged one: the way
// out of CodeHistoryCorrupt, which otherwise stays reported for good (the
// data file keeps the anchor as evidence). Nothing is deleted: the old log
// keeps its bytes under HistoryLog+".reset-"+UTC time in the home, to be
// examined or restored by hand. The new log's first entry (Kind
// history_reset) records the reset and the damage found, and the data file
// is anchored to it, so putting the old log back is reported as damage. A
// sound log is refused with CodeHistorySound unless force.
func (w *Wallet) ResetHistory(ctx context.Context, force bool) (*HistoryReset, error) {
	const op = "reset history"
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hl.legacy != nil {
		// History still in a data file from before the log moves into the
		// log first, so that a forced reset keeps it aside with the rest.
		if err := w.save(); err != nil {
			return nil, err
		}
	}
	sc, damage := w.scanHistory(0)
	reason := "reset by the holder; the log was sound"
	if damage == nil {
		if !force {
			return nil, newErr(op, CodeHistorySound, "the history log is sound (%d entries): nothing to reset (force starts a new log anyway)", sc.lines)
		}
	} else {
		reason = damage.Error()
		// Until the new log is in place, saves keep the anchor, as after
		// damage found at open (it may have been found only now).
		w.hl.corrupt = damage
	}
	kept, err := keepAside(w.hl.path, w.now())
	if err != nil {
		return nil, fmt.Errorf("walletsim: %s: keep the old log: %w", op, err)
	}
	where := "there was no log file"
	if kept != "" {
		where = "the previous log is kept as " + filepath.Base(kept)
	}
	e := HistoryEntry{Time: w.now().UTC(), Kind: "history_reset", Outcome: "reset", Detail: where + ": " + reason}
	// Numbering goes on past every entry the old log or the anchor knew,
	// so that no sequence number names two entries of this wallet.
	last := max(w.hl.seq, sc.seq)
	if w.hl.anchor != nil {
		last = max(last, w.hl.anchor.Seq)
	}
	// The new log names the anchor on disk, so it is consistent with the
	// data file at once (a crash before the save below is safe); the save
	// then anchors the new log, after which the old one reads as an older
	// copy.
	if err := w.rewriteHistory([]HistoryEntry{e}, last+1, w.hl.anchor); err != nil {
		return nil, err
	}
	if err := w.save(); err != nil {
		return nil, err
	}
	w.log.InfoContext(ctx, "wallet history log reset", "kept_as", kept, "reason", reason)
	return &HistoryReset{KeptAs: kept, Reason: reason, Entry: e}, nil
}

// keepAside gives the file at path a second name beside it, path+".reset-"
// and t in UTC (then -1, -2 … if taken), and returns that name; "" when
// there is no file. A hard link, not a rename: the old log stays in place
// until the new one replaces it atomically, so a crash in between leaves
// the wallet as it was plus a copy, never without a log (which would read
// as every line missing). On a file system without hard links, a rename.
func keepAside(path string, t time.Time) (string, error) {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	base := path + ".reset-" + t.UTC().Format("20060102T150405Z")
	for i := range 1000 {
		aside := base
		if i > 0 {
			aside = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Lstat(aside); err == nil {
			continue
		}
		err := os.Link(path, aside)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			// One process per home (see Wallet): aside is still free,
			// so the rename replaces nothing.
			if err := os.Rename(path, aside); err != nil {
				return "", err
			}
		}
		return aside, nil
	}
	return "", fmt.Errorf("no free name beside %s", base)
}
