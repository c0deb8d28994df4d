package online

import (
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"
)

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>mdoc verifier</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}button{margin:.3em}</style></head>
<body><h1>mdoc verifier</h1>
<p>Choose a check. The wallet is asked by QR code; only what the check needs is requested.</p>
<form id="f">
<label>Check <select name="purpose">
<option value="age">age over 20 (answer only)</option>
<option value="age18">age over 18 (answer only)</option>
<option value="insurance">health insurance qualification (clinic)</option></select></label>
<label>Protocol <select name="protocol"><option value="openid4vp">OpenID4VP 1.0</option><option value="annexc">ISO 18013-7 Annex C</option></select></label>
<button>Start</button></form>
<script>
document.getElementById('f').onsubmit = async e => {
  e.preventDefault();
  const f = new FormData(e.target);
  let p = f.get('purpose'), body = {protocol: f.get('protocol'), purpose: p};
  if (p === 'age') body.ageOver = 20;
  if (p === 'age18') { body.purpose = 'age'; body.ageOver = 18; }
  const r = await fetch('/api/transactions', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const j = await r.json();
  if (r.ok) location = j.page; else alert(j.code + ': ' + j.error_description);
};
</script></body></html>`))

var txTmpl = template.Must(template.New("tx").Parse(`<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>mdoc verifier – {{.ID}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}.ok{color:#070}.ng{color:#a00}code{word-break:break-all}</style></head>
<body><h1>Present with your wallet</h1>
<div id="ask"><p>Scan with the wallet ({{.Protocol}}):</p>
<img src="/tx/{{.ID}}/qr.svg" alt="QR code" width="300" height="300">
<p>or open <a href="{{.Invocation}}"><code>{{.Invocation}}</code></a></p>
<p>Waiting… (expires {{.Expires}})</p></div>
<div id="verdict"></div>
<script>
async function poll() {
  const r = await fetch('/api/transactions/{{.ID}}');
  const j = await r.json();
  if (j.state === 'pending') { setTimeout(poll, 1000); return; }
  document.getElementById('ask').style.display = 'none';
  const v = document.getElementById('verdict');
  const ok = j.decision ? j.decision.allowed : j.valid;
  let h = '<h2 class="' + (ok ? 'ok">OK' : 'ng">NG') + '</h2>';
  if (j.state === 'expired') h = '<h2 class="ng">expired</h2>';
  if (j.decision) h += '<p>rule: ' + j.decision.rule + ' (' + j.decision.code + ')</p>';
  if (j.codes && j.codes.length) h += '<p>codes: ' + j.codes.join(', ') + '</p>';
  if (j.result) h += '<pre>' + JSON.stringify(j.result.documents.map(d => d.elements), null, 1).replace(/</g, '&lt;') + '</pre>';
  v.innerHTML = h;
}
poll();
</script></body></html>`))

type txView struct {
	ID, Protocol, Invocation, Expires string
}

func (s *Server) index(c *gin.Context) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	_ = indexTmpl.Execute(c.Writer, nil)
}

func (s *Server) invocation(tx *Transaction) string {
	if tx.Protocol == ProtocolOpenID4VP {
		return oid4vpInvocation(s, tx)
	}
	return annexCInvocation(s, tx)
}

func (s *Server) page(c *gin.Context) {
	tx, err := s.cfg.Store.Get(c, c.Param("id"))
	if err != nil {
		c.String(httpStatus(err), "unknown transaction")
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	_ = txTmpl.Execute(c.Writer, txView{ID: tx.ID, Protocol: tx.Protocol, Invocation: s.invocation(tx), Expires: tx.Expires.Format("15:04:05 MST")})
}

func (s *Server) qrSVG(c *gin.Context) {
	tx, err := s.cfg.Store.Get(c, c.Param("id"))
	if err != nil {
		c.String(httpStatus(err), "unknown transaction")
		return
	}
	svg, err := QRSVG(s.invocation(tx), 4)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/svg+xml", []byte(svg))
}
