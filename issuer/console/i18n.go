package console

import (
	"net/http"
	"strings"
)

// language picks ja or en from Accept-Language (first supported tag
// wins); Japanese is the default, as the support line is in Japan.
func language(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "ja"):
			return "ja"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "ja"
}

var messages = map[string][2]string{ // key: {ja, en}
	"title":          {"運用コンソール", "Operator console"},
	"signin":         {"サインイン", "Sign in"},
	"token":          {"管理トークン", "Admin token"},
	"signin_fail":    {"トークンが正しくありません", "The token is not right"},
	"signout":        {"サインアウト", "Sign out"},
	"search":         {"検索", "Search"},
	"query":          {"利用者ID(仮名)または端末ID", "Person id (pseudonymous) or device id"},
	"enter_query":    {"利用者IDまたは端末IDを入力してください", "Enter a person id or a device id"},
	"not_found":      {"該当する利用者・端末はありません", "No such person or device"},
	"person":         {"利用者", "Person"},
	"device":         {"端末", "Device"},
	"model":          {"機種", "Model"},
	"os":             {"OS", "OS"},
	"state":          {"状態", "State"},
	"reason":         {"理由", "Reason"},
	"enrolled":       {"登録日時", "Enrolled"},
	"credentials":    {"証明書", "Credentials"},
	"doctype":        {"種別", "Document"},
	"valid_until":    {"有効期限", "Valid until"},
	"suspend":        {"一時利用停止", "Suspend"},
	"resume":         {"一時利用停止の解除", "Resume"},
	"revoke":         {"失効", "Revoke"},
	"all_devices":    {"この利用者のすべての端末", "All of this person's devices"},
	"this_device":    {"この端末", "This device"},
	"audit":          {"監査ログ", "Audit log"},
	"blocks":         {"機種・OSの利用制限", "Model and OS blocks"},
	"no_blocks":      {"制限はありません", "No blocks"},
	"kind":           {"対象", "Kind"},
	"value":          {"値", "Value"},
	"since":          {"開始", "Since"},
	"at":             {"日時", "Time"},
	"actor":          {"実行者", "Actor"},
	"action":         {"操作", "Action"},
	"detail":         {"詳細", "Detail"},
	"done":           {"実行しました", "Done"},
	"failed":         {"失敗しました", "Failed"},
	"db_unavailable": {"データベースに接続できません。しばらくしてから再度お試しください", "The database cannot be reached; try again in a moment"},
	"reason_hint":    {"例: 紛失の届出(電話)", "e.g. reported lost by phone"},
	"back":           {"戻る", "Back"},
	"active":         {"有効", "active"},
	"suspended":      {"一時利用停止中", "suspended"},
	"revoked":        {"失効", "revoked"},
	"valid":          {"有効", "valid"},
	"invalid":        {"失効", "revoked"},
}

// translate returns the message for key in lang, or key itself.
func translate(lang, key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if lang == "en" {
		return m[1]
	}
	return m[0]
}
