// One message table for every page: Japanese first, English second.
// Placeholders are written {name} and filled from the params object given to t().

const MESSAGES = {
	// Shared
	'conn.connecting': { ja: '接続しています…', en: 'Connecting…' },
	'conn.lost': { ja: '接続が切れました。再接続しています…', en: 'Connection lost. Reconnecting…' },
	'media.failed': { ja: 'カメラまたはマイクが使えません', en: 'The camera or microphone cannot be used' },
	'media.failed_detail': {
		ja: 'カメラとマイクが接続され、使用が許可されているか確認してください。({detail})',
		en: 'Check that a camera and a microphone are connected and allowed. ({detail})',
	},
	'error.generic': { ja: 'エラーが発生しました', en: 'Something went wrong' },
	'error.detail': { ja: '係員にお知らせください。({detail})', en: 'Please tell a staff member. ({detail})' },
	'button.retry': { ja: '再試行', en: 'Retry' },

	// Kiosk
	'kiosk.unregistered': { ja: 'この端末は登録されていません', en: 'This device is not registered' },
	'kiosk.unregistered_detail': {
		ja: '職員の方へ: 管理者が発行した端末用URL(#token=…)でこのページを開いてください。',
		en: 'For staff: open this page with the device URL (#token=…) issued by the administrator.',
	},
	'kiosk.token_rejected': {
		ja: '職員の方へ: 端末の認証に失敗しました。新しい端末用URLで開き直してください。',
		en: 'For staff: the device token was rejected. Open the page again with a new device URL.',
	},
	'kiosk.greeting': { ja: 'こんにちは', en: 'Hello' },
	'kiosk.choose': { ja: 'ご用件の窓口を押してください', en: 'Please touch the counter you need' },
	'kiosk.no_departments': { ja: '現在ご利用いただける窓口はありません', en: 'No counter is available now' },
	'kiosk.dept_unavailable': { ja: 'ただいま受付できません', en: 'Not available now' },
	'kiosk.calling': { ja: 'おつなぎしています', en: 'Connecting you' },
	'kiosk.please_wait': { ja: '担当者がお受けするまで、そのままお待ちください', en: 'Please wait for a clerk' },
	'kiosk.position': { ja: '順番: {n}番目', en: 'Your turn: number {n}' },
	'kiosk.wait_minutes': { ja: '待ち時間の目安: 約{m}分', en: 'Estimated wait: about {m} min' },
	'kiosk.wait_soon': { ja: 'まもなくおつなぎします', en: 'You will be connected shortly' },
	'kiosk.cancel': { ja: 'やめる', en: 'Cancel' },
	'kiosk.thanks': { ja: 'ご利用ありがとうございました', en: 'Thank you for using the service' },
	'kiosk.rate': { ja: 'よろしければ、ご感想を押してください', en: 'If you like, tell us how it went' },
	'kiosk.rated': { ja: 'ご協力ありがとうございました', en: 'Thank you for your feedback' },
	'kiosk.rating.1': { ja: '不満', en: 'Poor' },
	'kiosk.rating.3': { ja: 'ふつう', en: 'OK' },
	'kiosk.rating.5': { ja: '満足', en: 'Good' },
	'kiosk.no_answer': { ja: 'ただいま担当者が応答できません', en: 'No clerk can answer right now' },
	'kiosk.closed': { ja: '受付時間が終了しました', en: 'The counter is closed' },
	'kiosk.try_later': { ja: '恐れ入りますが、しばらくしてからもう一度お試しください', en: 'Please try again later' },
	'kiosk.unavailable': { ja: 'この窓口はただいま受付できません', en: 'This counter is not available now' },

	// Desk
	'desk.title': { ja: '窓口端末(職員用)', en: 'Clerk desk' },
	'desk.username': { ja: 'ユーザー名', en: 'Username' },
	'desk.password': { ja: 'パスワード', en: 'Password' },
	'desk.login': { ja: 'ログイン', en: 'Log in' },
	'desk.logout': { ja: 'ログアウト', en: 'Log out' },
	'desk.login_failed': { ja: 'ユーザー名またはパスワードが違います', en: 'Wrong username or password' },
	'desk.login_required': { ja: 'ユーザー名とパスワードを入力してください', en: 'Enter your username and password' },
	'desk.too_many': {
		ja: 'ログインの試行が多すぎます。しばらく待ってから再度お試しください',
		en: 'Too many attempts. Wait a moment and try again',
	},
	'desk.available': { ja: '受付可', en: 'Available' },
	'desk.away': { ja: '離席', en: 'Away' },
	'desk.status.available': { ja: '受付中: 着信をお待ちください', en: 'Available: waiting for calls' },
	'desk.status.away': { ja: '離席中: 着信しません', en: 'Away: calls will not ring here' },
	'desk.ringing': { ja: '着信', en: 'Ringing' },
	'desk.no_ringing': { ja: '着信はありません', en: 'No incoming calls' },
	'desk.queue': { ja: '待ち行列', en: 'Queue' },
	'desk.queue_empty': { ja: '待っている方はいません', en: 'Nobody is waiting' },
	'desk.accept': { ja: '応答', en: 'Accept' },
	'desk.waited': { ja: '待ち {time}', en: 'waited {time}' },
	'desk.procedure': { ja: '手続き', en: 'Procedure' },
	'desk.procedure_none': { ja: '(未選択)', en: '(none)' },
	'desk.onestop': { ja: 'ワンストップ', en: 'One-stop' },
	'desk.outcome': { ja: '結果', en: 'Outcome' },
	'desk.outcome.completed': { ja: '完了', en: 'Completed' },
	'desk.outcome.referred': { ja: '他課へ案内', en: 'Referred' },
	'desk.outcome.incomplete': { ja: '未完了', en: 'Incomplete' },
	'desk.end': { ja: '通話を終了', en: 'End call' },
	'desk.call_ended': { ja: '通話が終了しました', en: 'The call has ended' },
	'desk.taken': { ja: '他の職員が応答しました', en: 'Another clerk took this call' },
	'desk.ring_cancelled': { ja: '住民の方が呼び出しを取り消しました', en: 'The resident cancelled the call' },
	'desk.request_failed': { ja: '操作に失敗しました({detail})', en: 'The request failed ({detail})' },
}

const FALLBACK_LANG = 'ja'

// Returns the message for key in lang ('ja' or 'en') with {placeholders} filled from params.
// An unknown key returns the key itself so a missing entry is visible rather than blank.
export function t(key, params = {}, lang = FALLBACK_LANG) {
	const entry = MESSAGES[key]
	if (!entry) return key
	const text = entry[lang] ?? entry[FALLBACK_LANG]
	return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole))
}

// Fills el with the Japanese text and, below it, the English text in a smaller line.
export function setBilingual(el, key, params = {}) {
	const ja = document.createElement('span')
	ja.className = 'ja'
	ja.textContent = t(key, params, 'ja')
	const en = document.createElement('span')
	en.className = 'en'
	en.lang = 'en'
	en.textContent = t(key, params, 'en')
	el.replaceChildren(ja, en)
}

// Fills every element carrying data-i18n="key" under root: bilingual by default, Japanese
// only when the element also carries data-i18n-only="ja".
export function applyI18n(root = document) {
	for (const el of root.querySelectorAll('[data-i18n]')) {
		if (el.dataset.i18nOnly === 'ja') el.textContent = t(el.dataset.i18n)
		else setBilingual(el, el.dataset.i18n)
	}
	for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
		el.placeholder = t(el.dataset.i18nPlaceholder)
	}
}
