package online

import (
	"context"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
)

// The pages are for a clerk at a counter and the customer in front of
// them: the language follows the browser (Japanese or English), the
// wallet link opens the wallet on the same device, and the verdict is a
// large OK or NG that can be read from a step away.

// Page languages.
const (
	LangJapanese = "ja"
	LangEnglish  = "en"
)

// pageText holds a page's strings in one language; the tx page's script
// receives the same table.
var pageText = map[string]map[string]string{
	LangJapanese: {
		"title":       "mdoc 確認",
		"choose":      "確認する内容を選んでください。ウォレットにはその確認に必要な項目だけを求めます。",
		"check":       "確認",
		"age20":       "20歳以上か（結果のみ）",
		"age18":       "18歳以上か（結果のみ）",
		"insurance":   "健康保険の資格（医療機関）",
		"protocol":    "方式",
		"start":       "開始",
		"present":     "ウォレットで提示してください",
		"scan":        "スマートフォンのウォレットで QR コードを読み取るか、",
		"open":        "このスマートフォンのウォレットで開く",
		"waiting":     "応答を待っています…（有効期限 %s）",
		"ok":          "OK",
		"ng":          "NG",
		"okText":      "確認できました",
		"ngText":      "確認できませんでした",
		"expired":     "有効期限が切れました。もう一度開始してください。",
		"forbidden":   "この画面では結果を表示できません（確認を開始した端末でご覧ください）。",
		"gone":        "結果は表示済みのため消去されました。",
		"rule":        "判定",
		"codes":       "理由コード",
		"again":       "新しい確認",
		"errorCreate": "開始できませんでした",
	},
	LangEnglish: {
		"title":       "mdoc check",
		"choose":      "Choose a check. The wallet is asked only for what the check needs.",
		"check":       "Check",
		"age20":       "age 20 or over (answer only)",
		"age18":       "age 18 or over (answer only)",
		"insurance":   "health insurance qualification (clinic)",
		"protocol":    "Protocol",
		"start":       "Start",
		"present":     "Present with your wallet",
		"scan":        "Scan the QR code with the wallet on your phone, or",
		"open":        "open the wallet on this phone",
		"waiting":     "Waiting for the wallet… (expires %s)",
		"ok":          "OK",
		"ng":          "NG",
		"okText":      "Verified",
		"ngText":      "Not verified",
		"expired":     "The request expired. Please start again.",
		"forbidden":   "This page cannot show the result (look at the device that started the check).",
		"gone":        "The result was shown once and has been erased.",
		"rule":        "rule",
		"codes":       "reason codes",
		"again":       "New check",
		"errorCreate": "Could not start",
	},
}

// pageLang picks the page language from Accept-Language (RFC 9110
// §12.5.4): the acceptable tag with the highest weight that is Japanese or
// English; Japanese when neither is acceptable, since the counters this
// serves are in Japan.
func pageLang(header string) string {
	type choice struct {
		lang string
		q    float64
		pos  int
	}
	var cs []choice
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if (base == LangJapanese || base == LangEnglish) && q > 0 {
			cs = append(cs, choice{base, q, i})
		}
	}
	if len(cs) == 0 {
		return LangJapanese
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].q > cs[b].q })
	return cs[0].lang
}

// jst is Japan Standard Time, the clock of the counters the page serves.
var jst = time.FixedZone("JST", 9*60*60)

const pageStyle = `<style>
body{font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;max-width:42em;margin:1.5em auto;padding:0 1em;font-size:1.15rem}
button,select,.wallet{font-size:1.2rem;padding:.5em 1em;margin:.3em 0}
.wallet{display:inline-block;background:#1356c4;color:#fff;border-radius:.4em;text-decoration:none}
.verdict{font-size:min(40vw,14rem);font-weight:900;text-align:center;line-height:1.1;border-radius:.15em;margin:.2em 0;color:#fff}
.verdict.ok{background:#0a7d28}.verdict.ng{background:#c0161b}
.sub{text-align:center;font-size:2rem;font-weight:700}
pre{white-space:pre-wrap;word-break:break-all}
</style>`

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{index .T "title"}}</title>` + pageStyle + `</head>
<body><h1>{{index .T "title"}}</h1>
<p>{{index .T "choose"}}</p>
<form id="f">
<p><label>{{index .T "check"}} <select name="purpose" id="purpose">
<option value="age">{{index .T "age20"}}</option>
<option value="age18">{{index .T "age18"}}</option>
<option value="insurance">{{index .T "insurance"}}</option></select></label></p>
<p><label>{{index .T "protocol"}} <select name="protocol" id="protocol"><option value="openid4vp">OpenID4VP 1.0</option><option value="annexc">ISO/IEC 18013-7 Annex C</option></select></label></p>
<button id="start">{{index .T "start"}}</button></form>
<p id="err" role="alert"></p>
<script>
const T = {{.T}};
document.getElementById('f').onsubmit = async e => {
  e.preventDefault();
  const f = new FormData(e.target);
  let p = f.get('purpose'), body = {protocol: f.get('protocol'), purpose: p};
  if (p === 'age') body.ageOver = 20;
  if (p === 'age18') { body.purpose = 'age'; body.ageOver = 18; }
  // The answer sets an HttpOnly cookie holding the transaction's secret:
  // only this browser can read the outcome.
  const r = await fetch('/api/transactions', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const j = await r.json();
  if (r.ok) location = j.page; else document.getElementById('err').textContent = T.errorCreate + ': ' + j.code;
};
</script></body></html>`))

var txTmpl = template.Must(template.New("tx").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{index .T "title"}}</title>` + pageStyle + `</head>
<body>
<div id="ask"><h1>{{index .T "present"}}</h1>
<p>{{index .T "scan"}}</p>
<p><img id="qr" src="/tx/{{.ID}}/qr.svg" alt="QR" width="300" height="300"></p>
<p><a id="wallet" class="wallet" href="{{.Invocation}}">{{index .T "open"}}</a></p>
<p id="waiting">{{printf (index .T "waiting") .Expires}}</p></div>
<div id="result" hidden><div id="verdict" class="verdict"></div><p id="sub" class="sub"></p><div id="detail"></div>
<p><a href="/">{{index .T "again"}}</a></p></div>
<script>
const T = {{.T}};
const id = {{.ID}};
// In a same-device flow the wallet sends the browser back with a
// response_code (OpenID4VP 1.0 §8.2) in the fragment; it grants one read.
const rc = new URLSearchParams(location.hash.slice(1)).get('response_code');
// A wallet on this device may return to this very page with the code in
// the fragment, which does not reload it: start over with the code.
addEventListener('hashchange', () => location.reload());
function show(ok, sub, detail) {
  document.getElementById('ask').hidden = true;
  document.getElementById('result').hidden = false;
  const v = document.getElementById('verdict');
  v.textContent = ok ? T.ok : T.ng;
  v.className = 'verdict ' + (ok ? 'ok' : 'ng');
  document.getElementById('sub').textContent = sub;
  document.getElementById('detail').replaceChildren(...detail);
}
function para(text) { const p = document.createElement(text.startsWith('{') ? 'pre' : 'p'); p.textContent = text; return p; }
async function poll() {
  const r = await fetch('/api/transactions/' + encodeURIComponent(id) + (rc ? '?response_code=' + encodeURIComponent(rc) : ''), {credentials: 'same-origin', cache: 'no-store'});
  if (r.status === 403) { show(false, T.forbidden, []); return; }
  if (r.status === 409 || r.status === 404) { show(false, T.gone, []); return; }
  const j = await r.json();
  if (j.state === 'pending') { setTimeout(poll, 1000); return; }
  if (j.state === 'expired') { show(false, T.expired, []); return; }
  const ok = j.decision ? j.decision.allowed : j.valid;
  const detail = [];
  if (j.decision) detail.push(para(T.rule + ': ' + j.decision.rule + ' (' + j.decision.code + ')'));
  if (j.codes && j.codes.length) detail.push(para(T.codes + ': ' + j.codes.join(', ')));
  if (j.result) detail.push(para(JSON.stringify(j.result.documents.map(d => d.elements), null, 1)));
  show(ok, ok ? T.okText : T.ngText, detail);
}
poll();
</script></body></html>`))

type pageView struct {
	Lang       string
	T          map[string]string
	ID         string
	Invocation template.URL
	Expires    string
}

func (s *Server) view(c *gin.Context) pageView {
	lang := pageLang(c.GetHeader("Accept-Language"))
	c.Header("Content-Language", lang)
	c.Header("Vary", "Accept-Language")
	return pageView{Lang: lang, T: pageText[lang]}
}

func (s *Server) index(c *gin.Context) {
	v := s.view(c)
	c.Header("Content-Type", "text/html; charset=utf-8")
	_ = indexTmpl.Execute(c.Writer, v)
}

func (s *Service) invocation(tx *Transaction) string {
	if tx.Protocol == ProtocolOpenID4VP {
		return oid4vpInvocation(s, tx)
	}
	return annexCInvocation(s, tx)
}

// walletURL marks an invocation as a safe link target. html/template
// rewrites URLs with schemes other than http, https and mailto to
// "#ZgotmplZ", which left the wallet link dead; the invocation is built
// here, from our own base URL, with one of the two wallet schemes, so it is
// trusted only after checking that scheme.
func walletURL(inv string) template.URL {
	scheme, _, _ := strings.Cut(inv, "://")
	if !strings.EqualFold(scheme, oid4vp.Scheme) && !strings.EqualFold(scheme, "org-iso-mdoc") {
		return template.URL("#")
	}
	return template.URL(inv)
}

// Invitation is what the transaction page shows: the wallet invocation
// (QR code and link) and the deadline.
type Invitation struct {
	ID         string
	Invocation string
	Expires    time.Time
}

// Invitation returns how to invoke the wallet for transaction id, in any
// state (the page then follows the state through the status API).
func (s *Service) Invitation(ctx context.Context, id string) (*Invitation, error) {
	tx, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Invitation{ID: tx.ID, Invocation: s.invocation(tx), Expires: tx.Expires}, nil
}

func (s *Server) page(c *gin.Context) {
	inv, err := s.Invitation(c, c.Param("id"))
	if err != nil {
		c.String(httpStatus(err), "unknown transaction")
		return
	}
	v := s.view(c)
	v.ID, v.Invocation, v.Expires = inv.ID, walletURL(inv.Invocation), inv.Expires.In(jst).Format("15:04:05")
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	_ = txTmpl.Execute(c.Writer, v)
}

func (s *Server) qrSVG(c *gin.Context) {
	inv, err := s.Invitation(c, c.Param("id"))
	if err != nil {
		c.String(httpStatus(err), "unknown transaction")
		return
	}
	svg, err := QRSVG(inv.Invocation, 4)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/svg+xml", []byte(svg))
}
