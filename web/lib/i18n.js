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
	'kiosk.replaced': { ja: 'この端末は別の画面で使われています', en: 'This device is in use in another window' },
	'kiosk.replaced_detail': {
		ja: '職員の方へ: 同じ端末用URLが別の画面で開かれたため、この画面は止まりました。',
		en: 'For staff: the same device URL was opened elsewhere, so this window stopped.',
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
	// Kiosk: 筆談 replies (web/kiosk/text.js); the Japanese is what the clerk receives.
	'kiosk.reply.yes': { ja: 'はい', en: 'Yes' },
	'kiosk.reply.no': { ja: 'いいえ', en: 'No' },
	'kiosk.reply.again': { ja: 'もう一度お願いします', en: 'Once more, please' },

	// Desk
	'desk.title': { ja: '窓口端末(職員用)', en: 'Clerk desk' },
	'desk.username': { ja: 'ユーザー名', en: 'Username' },
	'desk.password': { ja: 'パスワード', en: 'Password' },
	'desk.login': { ja: 'ログイン', en: 'Log in' },
	'desk.logout': { ja: 'ログアウト', en: 'Log out' },
	'desk.login_failed': { ja: 'ユーザー名またはパスワードが違います', en: 'Wrong username or password' },
	'desk.login_unavailable': { ja: 'ただいまログインできません。しばらくしてからもう一度お試しください。', en: 'Cannot log in right now. Please try again in a moment.' },
	'desk.login_required': { ja: 'ユーザー名とパスワードを入力してください', en: 'Enter your username and password' },
	'desk.revoked': {
		ja: 'このアカウントは使えなくなりました。管理者に確認してください',
		en: 'This account can no longer sign in. Ask your administrator',
	},
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

	// Counter routing: resume, one-stop, five-step rating (kiosk)
	'conn.resuming': { ja: '接続を回復しています…', en: 'Reconnecting…' },
	'kiosk.onestop_title': { ja: 'まとめて手続き(ワンストップ)', en: 'One-stop services' },
	'kiosk.onestop_steps': { ja: '{n}つの窓口を順にご案内します', en: 'We take you through {n} counters in turn' },
	'kiosk.next_department': { ja: '次の窓口へおつなぎします', en: 'Connecting you to the next counter' },
	'kiosk.rate5.1': { ja: 'とても不満', en: 'Very poor' },
	'kiosk.rate5.2': { ja: '不満', en: 'Poor' },
	'kiosk.rate5.3': { ja: 'ふつう', en: 'OK' },
	'kiosk.rate5.4': { ja: '満足', en: 'Good' },
	'kiosk.rate5.5': { ja: 'とても満足', en: 'Very good' },

	// Kiosk: waiting time on the buttons, the start-up check, staff mode (issue 11)
	'kiosk.dept_wait': { ja: '待ち時間 約{m}分', en: 'Wait about {m} min' },
	'kiosk.dept_wait_people': { ja: '{n}人待ち・約{m}分', en: '{n} waiting, about {m} min' },
	'kiosk.check.title': { ja: '機器を確認しています', en: 'Checking the equipment' },
	'kiosk.check.camera': { ja: 'カメラ', en: 'Camera' },
	'kiosk.check.mic': { ja: 'マイク', en: 'Microphone' },
	'kiosk.check.network': { ja: '通信', en: 'Connection' },
	'kiosk.check.pending': { ja: '確認中…', en: 'Checking…' },
	'kiosk.check.ok': { ja: '正常です', en: 'OK' },
	'kiosk.check.camera.black': { ja: '映像が真っ暗です', en: 'The picture is black' },
	'kiosk.check.camera.frozen': { ja: '映像が止まっています', en: 'The picture does not move' },
	'kiosk.check.camera.missing': { ja: '映像が届いていません', en: 'No picture arrives' },
	'kiosk.check.mic.silent': { ja: '音が聞こえません', en: 'No sound is heard' },
	'kiosk.check.mic.missing': { ja: '音が届いていません', en: 'No sound arrives' },
	'kiosk.check.network.unstable': { ja: '不安定です', en: 'Unstable' },
	'kiosk.check.network.down': { ja: 'つながっていません', en: 'Not connected' },
	'kiosk.check.problem': { ja: '職員に確認を依頼してください', en: 'Please ask the staff to check' },
	'kiosk.check.unknown': { ja: '確認できません', en: 'Cannot be checked' },
	'kiosk.check.unsupported': {
		ja: 'このサーバーでは自己診断を利用できません',
		en: 'This server does not offer the self-test',
	},
	'kiosk.staff_warning': { ja: '職員の方へ: 機器の点検が必要です({what})', en: 'For staff: check the {what_en}' },
	'kiosk.pin.title': { ja: '職員用 暗証番号', en: 'Staff PIN' },
	'kiosk.pin.ok': { ja: '決定', en: 'OK' },
	'kiosk.pin.clear': { ja: '消去', en: 'Clear' },
	'kiosk.pin.cancel': { ja: 'もどる', en: 'Back' },
	'kiosk.pin.wrong': { ja: '暗証番号が違います', en: 'Wrong PIN' },
	'kiosk.pin.too_many': {
		ja: '間違いが続いたため、しばらく入力できません',
		en: 'Too many wrong PINs: try again later',
	},
	'kiosk.pin.failed': { ja: '確認できませんでした({detail})', en: 'Could not check ({detail})' },
	'kiosk.staff.title': { ja: '職員モード', en: 'Staff mode' },
	'kiosk.staff.camera': { ja: 'カメラ', en: 'Camera' },
	'kiosk.staff.mic': { ja: 'マイク', en: 'Microphone' },
	'kiosk.staff.speaker': { ja: 'スピーカー', en: 'Speaker' },
	'kiosk.staff.speaker_default': { ja: '標準のスピーカー', en: 'Default speaker' },
	'kiosk.staff.volume': { ja: '音量', en: 'Volume' },
	'kiosk.staff.test_sound': { ja: 'テスト音を鳴らす', en: 'Play a test sound' },
	'kiosk.staff.selftest': { ja: '自己診断', en: 'Self-test' },
	'kiosk.staff.selftest_running': { ja: '診断しています(約5秒)…', en: 'Testing (about 5 s)…' },
	'kiosk.staff.switch_failed': { ja: '切り替えできませんでした({detail})', en: 'Could not switch ({detail})' },
	'kiosk.staff.close': { ja: 'メニューに戻る', en: 'Back to the menu' },

	// Counter routing (desk)
	'desk.take': { ja: '対応する', en: 'Take' },
	'desk.route_to': { ja: '案内先', en: 'To' },
	'desk.transfer': { ja: '転送', en: 'Transfer' },
	'desk.invite': { ja: '三者通話に招く', en: 'Invite' },
	'desk.transferred': { ja: '{dept}へ転送しました', en: 'Transferred to {dept}' },
	'desk.invited': { ja: '{dept}をお呼びしています', en: 'Calling {dept} to join' },
	'desk.volume': { ja: '住民側の音量', en: 'Kiosk volume' },
	'desk.kiosk_mic': { ja: '住民側マイク', en: 'Kiosk microphone' },
	'desk.blur': { ja: '背景をぼかす', en: 'Blur background' },
	'desk.blur.loading': { ja: '背景ぼかしを準備しています…', en: 'Preparing the background blur…' },
	'desk.blur.failed': {
		ja: '背景ぼかしを使えません。カメラの映像はぼかさずに送られます({detail})',
		en: 'Background blur is unavailable: your camera is sent without blur ({detail})',
	},
	'desk.blur.off': { ja: '背景ぼかしは切れています。背景がそのまま映ります', en: 'Background blur is off: your background is visible' },
	'desk.share': { ja: '資料を共有', en: 'Share a document' },
	'desk.share_stop': { ja: '共有を停止', en: 'Stop sharing' },
	'desk.share.camera': { ja: '書画カメラ', en: 'Document camera' },
	'desk.share.screen': { ja: '画面', en: 'Screen' },
	'desk.share.sample': { ja: '見本資料', en: 'Sample page' },
	'desk.document': { ja: '資料', en: 'Document' },
	// Desk: 筆談 (web/desk/text.js) and marks on the document (web/desk/draw.js)
	'desk.text.title': { ja: '筆談', en: 'Text' },
	'desk.text.label': { ja: '住民の方に表示する文字(Enterで送信、Shift+Enterで改行)', en: 'Text shown to the resident (Enter sends)' },
	'desk.text.send': { ja: '送信', en: 'Send' },
	'desk.text.too_long': { ja: '{n}文字までです', en: 'At most {n} characters' },
	'desk.text.too_many': { ja: '送信が続きすぎています。少し待ってください', en: 'Too many messages; wait a moment' },
	'desk.text.failed': { ja: '送信できませんでした({detail})', en: 'Could not send ({detail})' },
	'desk.own_document': { ja: '共有中の資料', en: 'Your shared document' },
	'desk.marks.title': { ja: '資料に書き込み', en: 'Mark the document' },
	'desk.marks.rect': { ja: '四角', en: 'Rectangle' },
	'desk.marks.circle': { ja: '丸', en: 'Circle' },
	'desk.marks.arrow': { ja: '矢印', en: 'Arrow' },
	'desk.marks.color': { ja: '色', en: 'Colour' },
	'desk.marks.undo': { ja: '1つ戻す', en: 'Undo' },
	'desk.marks.clear': { ja: 'すべて消す', en: 'Clear' },
	'desk.marks.too_many': { ja: '書き込みは{n}個までです', en: 'At most {n} marks' },
	'desk.marks.failed': { ja: '書き込みを送れませんでした({detail})', en: 'Could not send the marks ({detail})' },

	// Coordinator
	'coord.title': { ja: 'ワンストップ調整(職員用)', en: 'One-stop coordinator' },
	'coord.board': { ja: '進行中のワンストップ', en: 'One-stop visits in progress' },
	'coord.empty': { ja: '進行中のワンストップはありません', en: 'No one-stop visit in progress' },
	'coord.started': { ja: '開始 {time}', en: 'started {time}' },
	'coord.patch': { ja: '次の課へ移す', en: 'Move on now' },
	'coord.patch_here': { ja: 'この課へ移す', en: 'Move here now' },
	'coord.skip': { ja: '省略', en: 'Skip' },
	'coord.earlier': { ja: '前へ', en: 'Earlier' },
	'coord.later': { ja: '後へ', en: 'Later' },
	'coord.join': { ja: '入室', en: 'Join' },
	'coord.leave': { ja: '退室', en: 'Leave' },
	'coord.finish': { ja: '全体を終了', en: 'Finish visit' },
	'coord.in_room': { ja: '入室中', en: 'In the room' },
	'coord.not_coordinator': {
		ja: 'このアカウントには調整の権限がありません',
		en: 'This account is not a coordinator',
	},
	'coord.state.pending': { ja: '未', en: 'pending' },
	'coord.state.queued': { ja: '待ち', en: 'queued' },
	'coord.state.active': { ja: '対応中', en: 'active' },
	'coord.state.done': { ja: '完了', en: 'done' },
	'coord.state.skipped': { ja: '省略', en: 'skipped' },
	'coord.board_link': { ja: '状況ボード', en: 'Status board' },
	'coord.no_devices': {
		ja: 'カメラまたはマイクが使えないため、こちらの映像と音声は送られません。相手の映像と音声は見聞きできます。({detail})',
		en: 'No camera or microphone can be used, so nothing is sent from here; you can still see and hear the room. ({detail})',
	},

	// Status board
	'board.title': { ja: '窓口状況ボード', en: 'Status board' },
	'board.login_hint': { ja: '調整または管理の権限がある職員アカウントでログインしてください', en: 'Log in with a coordinator or admin account' },
	'board.forbidden': { ja: 'このアカウントには状況ボードを見る権限がありません', en: 'This account may not see the status board' },
	'board.coordinator_link': { ja: 'ワンストップ調整', en: 'One-stop coordinator' },
	'board.problems': { ja: '要対応', en: 'Needs attention' },
	'board.no_problems': { ja: '問題はありません', en: 'No problems' },
	'board.problem_count': { ja: '{n}件(重い順に{shown}件を表示)', en: '{n} (the worst {shown} shown)' },
	'board.kiosks': { ja: '端末(支所別)', en: 'Kiosks by branch' },
	'board.departments': { ja: '窓口(課)', en: 'Departments' },
	'board.no_kiosks': { ja: '登録された端末はありません', en: 'No kiosk is registered' },
	'board.online_count': { ja: '接続 {n}/{total}', en: '{n}/{total} online' },
	'board.updated': { ja: '更新 {time}', en: 'Updated {time}' },
	'board.kstate.offline': { ja: 'オフライン', en: 'Offline' },
	'board.kstate.idle': { ja: '待機中', en: 'Idle' },
	'board.kstate.queued': { ja: '順番待ち', en: 'Queued' },
	'board.kstate.ringing': { ja: '呼び出し中', en: 'Ringing' },
	'board.kstate.in_call': { ja: '通話中', en: 'In a call' },
	'board.health.none': { ja: '点検: 未実施', en: 'Self-test: not run' },
	'board.health.ok': { ja: '点検: 正常', en: 'Self-test: OK' },
	'board.health.audio_silent': { ja: 'マイクの音が入っていません', en: 'The microphone is silent' },
	'board.health.audio_missing': { ja: 'マイクの音が届いていません', en: 'No sound arrives from the microphone' },
	'board.health.video_black': { ja: 'カメラの映像が真っ暗です', en: 'The camera picture is black' },
	'board.health.video_frozen': { ja: 'カメラの映像が止まっています', en: 'The camera picture is frozen' },
	'board.health.video_missing': { ja: 'カメラの映像が届いていません', en: 'No picture arrives from the camera' },
	'board.since': { ja: '{time}から', en: 'since {time}' },
	'board.last_seen': { ja: '最終接続 {time}', en: 'last seen {time}' },
	'board.tile_seen': { ja: '最終 {time}', en: 'last {time}' },
	'board.tile_never': { ja: '未接続', en: 'never' },
	'board.never_seen': { ja: '接続記録なし', en: 'never connected' },
	'board.p.offline': { ja: '受付時間中にオフラインです({since})', en: 'Offline during opening hours ({since})' },
	'board.p.offline_many': { ja: '受付時間中に端末{n}台がオフラインです', en: '{n} kiosks offline during opening hours' },
	'board.p.nobody': { ja: '受付中ですが職員がいません', en: 'Open, but no clerk is logged in' },
	'board.p.all_busy': { ja: '受付中ですが手の空いた職員がいません', en: 'Open, but every clerk is busy' },
	'board.p.long_wait': { ja: '待ち時間が長くなっています(最長 {wait}、{n}人待ち)', en: 'Long wait (longest {wait}, {n} waiting)' },
	'board.level.bad': { ja: '要対応', en: 'Problem' },
	'board.level.warn': { ja: '注意', en: 'Warning' },
	'board.col.department': { ja: '課', en: 'Department' },
	'board.col.open': { ja: '受付', en: 'Open' },
	'board.col.desks': { ja: '職員', en: 'Desks' },
	'board.col.queued': { ja: '待ち', en: 'Waiting' },
	'board.col.wait': { ja: '最長待ち', en: 'Longest wait' },
	'board.open': { ja: '受付中', en: 'Open' },
	'board.closed': { ja: '時間外', en: 'Closed' },
	'board.presence.available': { ja: '受付可', en: 'available' },
	'board.presence.busy': { ja: '対応中', en: 'busy' },
	'board.presence.away': { ja: '離席', en: 'away' },
	'board.no_desks': { ja: 'ログインなし', en: 'nobody logged in' },
	'board.people': { ja: '{n}人', en: '{n}' },
	'board.min_sec': { ja: '{m}分{s}秒', en: '{m}m {s}s' },
	'board.sec': { ja: '{s}秒', en: '{s}s' },

	// Statistics
	'stats.title': { ja: '利用統計', en: 'Usage statistics' },
	'stats.login_hint': { ja: '分析権限のある職員アカウントでログインしてください', en: 'Log in with a staff account that has the analyst flag' },
	'stats.forbidden': { ja: 'このアカウントには分析権限がありません', en: 'This account has no analyst flag' },
	'stats.expired': { ja: 'ログインの有効期限が切れました。もう一度ログインしてください', en: 'Your login has expired. Please log in again' },
	'stats.from': { ja: '開始月', en: 'From' },
	'stats.to': { ja: '終了月', en: 'To' },
	'stats.group_by': { ja: '集計の単位', en: 'Group by' },
	'stats.show': { ja: '表示', en: 'Show' },
	'stats.csv': { ja: 'CSVをダウンロード', en: 'Download CSV' },
	'stats.loading': { ja: '読み込んでいます…', en: 'Loading…' },
	'stats.empty': { ja: 'この期間の利用はありません', en: 'No use in this period' },
	'stats.failed': { ja: '統計を読み込めませんでした({detail})', en: 'Could not load the statistics ({detail})' },
	'stats.no_chart': { ja: 'グラフ部品がないため、表のみ表示しています', en: 'The chart library is missing; showing the table only' },
	'stats.chart_title': { ja: '月別の利用件数', en: 'Visits per month' },
	'stats.all': { ja: '(合計)', en: '(all)' },
	'stats.none': { ja: '(なし)', en: '(none)' },
	'stats.col.month': { ja: '月', en: 'Month' },
	'stats.col.branch': { ja: '支所', en: 'Branch' },
	'stats.col.department': { ja: '課', en: 'Department' },
	'stats.col.procedure': { ja: '手続き', en: 'Procedure' },
	'stats.col.visits': { ja: '利用件数', en: 'Visits' },
	'stats.col.legs': { ja: '取次件数', en: 'Legs' },
	'stats.col.answered': { ja: '応答', en: 'Answered' },
	'stats.col.abandoned': { ja: '放棄', en: 'Abandoned' },
	'stats.col.avg_wait_s': { ja: '平均待ち(秒)', en: 'Avg wait (s)' },
	'stats.col.avg_talk_s': { ja: '平均通話(秒)', en: 'Avg talk (s)' },
	'stats.col.onestop_visits': { ja: 'ワンストップ', en: 'One-stop' },
	'stats.col.avg_rating': { ja: '平均評価', en: 'Avg rating' },
	'stats.col.booked_visits': { ja: '予約', en: 'Booked' },
	'stats.col.interpreted_visits': { ja: '通訳', en: 'Interpreted' },

	// Bookings (予約相談): the desk's calendar (web/desk/bookings.js), the kiosk's buttons
	'booking.title': { ja: '予約相談', en: 'Bookings' },
	'booking.department': { ja: '課', en: 'Department' },
	'booking.branch': { ja: '支所', en: 'Branch' },
	'booking.date': { ja: '日付', en: 'Date' },
	'booking.time': { ja: '開始時刻', en: 'Start' },
	'booking.minutes': { ja: '時間(分)', en: 'Minutes' },
	'booking.procedure': { ja: '手続き', en: 'Procedure' },
	'booking.name': { ja: 'お名前(任意)', en: 'Name (optional)' },
	'booking.book': { ja: '予約する', en: 'Book' },
	'booking.cancel': { ja: '取消', en: 'Cancel' },
	'booking.show': { ja: '表示', en: 'Show' },
	'booking.empty': { ja: 'この日の予約はありません', en: 'No bookings on this day' },
	'booking.state.booked': { ja: '予約済み', en: 'Booked' },
	'booking.state.cancelled': { ja: '取消済み', en: 'Cancelled' },
	'booking.state.done': { ja: '対応済み', en: 'Called' },
	'booking.state.missed': { ja: '来訪なし', en: 'Missed' },
	'booking.booked': { ja: '{time} に予約しました', en: 'Booked for {time}' },
	'booking.failed': { ja: '予約できませんでした({detail})', en: 'Could not book ({detail})' },
	'booking.conflict': { ja: 'その時間には既に予約があります', en: 'You already have a booking then' },
	'kiosk.bookings_title': { ja: 'ご予約の方', en: 'If you have a booking' },
	'kiosk.booking_at': { ja: '{time} のご予約', en: 'Booking at {time}' },
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
