package verifier

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
)

// WriteText writes a human-readable summary of r: the verdict, then each
// document with its errors and disclosed elements.
func (r *Result) WriteText(w io.Writer) error {
	verdict := "INVALID"
	if r.Valid {
		verdict = "VALID"
	}
	if _, err := fmt.Fprintf(w, "%s\n", verdict); err != nil {
		return err
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error %s: %s\n", e.Code, e.Message)
	}
	for i, d := range r.Documents {
		v := "invalid"
		if d.Valid {
			v = "valid"
		}
		fmt.Fprintf(w, "document %d: %s (%s)\n", i+1, d.DocType, v)
		if d.DeviceAuthMethod != "" {
			fmt.Fprintf(w, "  device authentication: %s\n", d.DeviceAuthMethod)
		}
		if d.Status != "" {
			fmt.Fprintf(w, "  status: %s\n", d.Status)
		}
		for _, e := range d.Errors {
			fmt.Fprintf(w, "  error %s: %s\n", e.Code, e.Message)
		}
		for _, e := range d.Warnings {
			fmt.Fprintf(w, "  warning %s: %s\n", e.Code, e.Message)
		}
		for _, ns := range slices.Sorted(maps.Keys(d.Elements)) {
			fmt.Fprintf(w, "  %s\n", ns)
			for _, id := range slices.Sorted(maps.Keys(d.Elements[ns])) {
				b, _ := json.Marshal(d.Elements[ns][id])
				s := string(b)
				if len(s) > 120 {
					s = s[:117] + "..."
				}
				fmt.Fprintf(w, "    %s = %s\n", id, s)
			}
		}
	}
	return nil
}
