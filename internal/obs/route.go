package obs

import (
	"strings"

	"github.com/gin-gonic/gin"
)

// RouteOther labels requests that match no registered route, so that a
// scan of random paths cannot grow the metrics without bound.
const RouteOther = "other"

// routeTable maps a request to the pattern of the route that serves it
// ("/api/transactions/:id"), the label metrics carry: raw paths hold
// transaction ids and would make every request its own series.
type routeTable struct {
	byMethod map[string][]route
}

type route struct {
	pattern  string
	segs     []string
	literals int // literal segments: the more, the more specific
}

// routesOf reads the routes of a gin engine (or anything that lists its
// routes the same way); other handlers give an empty table.
func routesOf(h any) *routeTable {
	t := &routeTable{byMethod: map[string][]route{}}
	lister, ok := h.(interface{ Routes() gin.RoutesInfo })
	if !ok {
		return t
	}
	for _, ri := range lister.Routes() {
		t.add(ri.Method, ri.Path)
	}
	return t
}

func (t *routeTable) add(method, pattern string) {
	r := route{pattern: pattern, segs: splitPath(pattern)}
	for _, s := range r.segs {
		if s == "" || (s[0] != ':' && s[0] != '*') {
			r.literals++
		}
	}
	t.byMethod[method] = append(t.byMethod[method], r)
}

// match returns the pattern of the most specific route matching method and
// path — gin prefers static segments over parameters, and so does this —
// or RouteOther.
func (t *routeTable) match(method, path string) string {
	segs := splitPath(path)
	best, bestLit := RouteOther, -1
	for _, r := range t.byMethod[method] {
		if r.matches(segs) && r.literals > bestLit {
			best, bestLit = r.pattern, r.literals
		}
	}
	return best
}

func (r route) matches(segs []string) bool {
	for i, p := range r.segs {
		if p != "" && p[0] == '*' {
			return true
		}
		if i >= len(segs) {
			return false
		}
		if p != "" && p[0] == ':' {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if p != segs[i] {
			return false
		}
	}
	return len(segs) == len(r.segs)
}

func splitPath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}
