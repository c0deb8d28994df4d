package walletsim

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

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
// Cutting whole lines off the tail, or putting back a whole older copy of
// the log, is not detectable (it looks like appends that never happened):
// that would need an anchor in the data file, which is rewritten less often
// than the log grows. The log is as durable as the
// data file: every append is fsynced before it returns.
//
// A crash mid-append leaves a torn final line: no trailing newline, or
// bytes that are not base64 (a file system may extend the file before its
// data reaches the disk). It is ignored with a warning and cut off before
// the next append; it never blocks opening the wallet. Any other damage is
// CodeHistoryCorrupt from History, and presenting goes on.
//
// When the log holds more than 2×MaxHistory lines it is compacted: the last
// MaxHistory entries are re-chained into a new file written atomically
// (fsx.WriteFile), so the cost is amortised over MaxHistory appends. The
// same rewrite reseals the log after a remote delete rotated the element's
// device key, and moves the history of a data file written before the log
// existed.
const (
	historyPurpose = "wallet-history"
	// maxHistoryLine bounds one line read back or written; an entry that
	// would be longer is recorded without its documents.
	maxHistoryLine = 1 << 20
)

// logRecord is the sealed content of one history line.
type logRecord struct {
	Seq   uint64       `json:"seq"`
	Prev  []byte       `json:"prev,omitempty"`
	Entry HistoryEntry `json:"entry"`
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
}

// logScan is what decodeHistoryLog read.
type logScan struct {
	entries []HistoryEntry // the last keep entries, oldest first
	seq     uint64
	prev    []byte
	lines   int
	size    int64 // bytes of the good lines
	torn    bool  // a torn final line follows them
}

func lineHash(line []byte) []byte {
	h := sha256.Sum256(line)
	return h[:]
}

func corruptHistory(format string, args ...any) *Error {
	return newErr("history", CodeHistoryCorrupt, format, args...)
}

// decodeHistoryLog reads a log from r, keeping its last keep entries. It
// reads r once, line by line, so the log's size is not bounded, only its
// lines' (maxHistoryLine). On damage it returns what it read before it
// with an *Error of CodeHistoryCorrupt.
func decodeHistoryLog(r io.Reader, s sealer, keep int) (*logScan, error) {
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
		sc.seq, sc.prev = rec.Seq, lineHash(text)
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
func encodeHistoryLine(s sealer, seq uint64, prev []byte, e HistoryEntry) ([]byte, error) {
	for range 2 {
		pt, err := json.Marshal(&logRecord{Seq: seq, Prev: prev, Entry: e})
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
		return &logScan{}, nil
	}
	if err != nil {
		return &logScan{}, &Error{Op: "history", Code: CodeHistoryCorrupt, Detail: "open log", Err: err}
	}
	defer f.Close()
	return decodeHistoryLog(f, w.el, keep)
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
	line, err := encodeHistoryLine(w.el, hl.seq+1, hl.prev, e)
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
		return w.rewriteHistory(sc.last(MaxHistory), sc.seq)
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
// and re-chained from an empty prev, atomically.
func (w *Wallet) rewriteHistory(entries []HistoryEntry, lastSeq uint64) error {
	var buf bytes.Buffer
	var prev []byte
	seq := lastSeq - uint64(len(entries))
	for _, e := range entries {
		seq++
		line, err := encodeHistoryLine(w.el, seq, prev, e)
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
		prev = lineHash(line)
	}
	if err := fsx.WriteFile(w.hl.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("walletsim: rewrite history: %w", err)
	}
	w.hl.seq, w.hl.prev, w.hl.lines, w.hl.size = seq, prev, len(entries), int64(buf.Len())
	w.hl.torn, w.hl.corrupt = false, nil
	return nil
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
	if err := w.rewriteHistory(w.hl.legacy, uint64(len(w.hl.legacy))); err != nil {
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
