"""How far the embedding model can be trusted in each script, measured when the model loads.

An English-only embedder (the default all-MiniLM-L6-v2) maps Chinese text to near-random vectors:
letting its ranking count as much as BM25's drags a hybrid search far below BM25 alone. Rather than
hard-coding which model knows which language, the model is asked a small fixed set of questions
per script, each with one passage that answers it among passages that do not; how often it ranks
the right passage first, above chance, is its skill in that script (0 = chance, 1 = always right).
A multilingual model (bge-m3, paraphrase-multilingual-MiniLM) scores high in both and keeps its
full weight in Chinese.

The pairs of the two scripts are translations of each other, so the same questions also measure the
model across scripts: a Chinese question against the English passages ("han→latin") and back
("latin→han"). Only a multilingual model crosses; where the default cannot, a question is also
searched in translation (chat.question_translation).

The questions paraphrase their passages rather than repeating their words, since word overlap is
BM25's job; they are everyday workplace topics, unrelated to any evaluation data set.
"""

import threading
import unicodedata

import numpy as np

_PAIRS: dict[str, list[tuple[str, str]]] = {
    "latin": [
        (
            "How many days off do I get each year?",
            "Full-time employees receive 25 days of paid annual leave, plus public holidays.",
        ),
        (
            "My laptop was stolen, what should I do first?",
            "Report a lost or stolen device to the IT service desk immediately so it can be wiped remotely.",
        ),
        (
            "Who pays for my train ticket to the client?",
            "Travel to customer sites is reimbursed; submit the receipt in the expense tool within 30 days.",
        ),
        (
            "I forgot my login credentials.",
            "To reset a password, open the self-service portal and confirm the code sent to your phone.",
        ),
        (
            "When is salary paid?",
            "Wages are transferred to your bank account on the last working day of every month.",
        ),
        (
            "Can I bring my dog to the office?",
            "Pets are not allowed in the building, with the exception of registered assistance animals.",
        ),
        (
            "Where can I leave my car?",
            "Staff parking is in the underground garage; request an access card from reception.",
        ),
        (
            "What happens if the fire alarm goes off?",
            "On hearing the evacuation signal, leave by the nearest stairs and gather at the assembly point.",
        ),
        (
            "How do I book a room for a meeting?",
            "Conference spaces are reserved through the calendar app by adding the room as a guest.",
        ),
        (
            "Is working from home allowed?",
            "Remote work is permitted up to three days a week with your manager's agreement.",
        ),
        (
            "How long do we keep customer records?",
            "Client data is retained for seven years after the contract ends and then deleted.",
        ),
        (
            "Can a customer get their money back?",
            "Refunds are granted within 14 days of purchase if the product is returned unused.",
        ),
        (
            "Who approves new software purchases?",
            "Buying applications or licences requires sign-off from the procurement team and IT security.",
        ),
        (
            "What is the dress code?",
            "Business casual clothing is expected; formal attire only for client presentations.",
        ),
        (
            "How do I get my code into production?",
            "Changes are deployed after two reviewers approve the merge request and the pipeline passes.",
        ),
        (
            "Am I covered if I get sick abroad?",
            "The company health insurance includes emergency medical treatment while travelling overseas.",
        ),
        (
            "When does the canteen serve lunch?",
            "The staff restaurant is open for the midday meal from 11:30 to 14:00 on weekdays.",
        ),
        (
            "Do new hires get a mentor?",
            "Every newcomer is paired with an experienced colleague for their first three months.",
        ),
        (
            "How are bonuses calculated?",
            "Annual incentive payments depend on company results and your individual performance rating.",
        ),
        (
            "Can I use my own phone for work email?",
            "Personal mobile devices may access company mail once the device management app is installed.",
        ),
    ],
    "han": [
        ("我每年能休几天假？", "全职员工每年享有二十五天带薪年假，法定节假日另计。"),
        ("笔记本电脑丢了怎么办？", "设备遗失或被盗时，请立即联系信息技术服务台，以便远程清除数据。"),
        ("去客户那里的火车票谁出？", "前往客户现场的差旅费用可以报销，请在三十日内把发票提交到报销系统。"),
        ("登录密码想不起来了。", "如需重置口令，请打开自助门户，并输入发送到手机上的验证码。"),
        ("工资什么时候发？", "薪酬于每月最后一个工作日转入您的银行账户。"),
        ("可以带宠物来上班吗？", "大楼内禁止携带动物入内，登记在册的导盲犬等辅助动物除外。"),
        ("车停在哪里？", "员工停车场位于地下车库，门禁卡请向前台申领。"),
        ("火警响了要做什么？", "听到疏散信号后，请走最近的楼梯离开，并到集合点集合。"),
        ("开会的房间怎么预订？", "会议室通过日历应用预约，把房间添加为参会者即可。"),
        ("可以在家办公吗？", "经主管同意，每周最多可远程工作三天。"),
        ("客户资料保存多久？", "客户数据在合同终止后保留七年，然后删除。"),
        ("顾客能退款吗？", "商品未经使用且在购买后十四天内退回的，可以退还货款。"),
        ("买新软件需要谁批准？", "采购应用程序或许可证须经采购部门和信息安全团队签字同意。"),
        ("上班穿什么衣服？", "平时着商务休闲装，向客户做演示时请穿正装。"),
        ("代码怎样才能上线？", "合并请求经两名评审人通过且流水线运行成功后方可发布。"),
        ("在国外生病有保险吗？", "公司医疗保险涵盖出差期间在海外发生的急诊治疗费用。"),
        ("食堂几点开饭？", "员工餐厅工作日中午十一点半至下午两点供应午餐。"),
        ("新来的同事有人带吗？", "每位新员工在入职头三个月都会由一位资深同事指导。"),
        ("奖金是怎么算的？", "年度激励取决于公司业绩和个人绩效评级。"),
        ("私人手机能收工作邮件吗？", "安装设备管理应用后，个人移动设备即可访问公司邮箱。"),
    ],
}
SCRIPTS = tuple(_PAIRS)  # the scripts probed; skills() also holds the crossings between them
# (question script, passage script): question i of one script is answered by passage i of the other.
CROSSINGS = (("han", "latin"), ("latin", "han"))
# A script counts in a text (its dense weight, its relevance floor) from this share of its units on.
MAJOR_SCRIPT_SHARE = 0.25

_skills: dict[str, float] | None = None
_lock = threading.Lock()


def crossing(question_script: str, passage_script: str) -> str:
    """The key of the skill of finding passages in one script with questions in another."""
    return f"{question_script}→{passage_script}"


def _skill(questions: np.ndarray, passages: np.ndarray) -> float:
    """Top-1 accuracy of question i → passage i, rescaled so that chance is 0."""
    hits = float(np.mean(np.argmax(questions @ passages.T, axis=1) == np.arange(len(questions))))
    chance = 1 / len(questions)
    return round(max(0.0, (hits - chance) / (1 - chance)), 3)


def measure(encode) -> dict[str, float]:
    """Skill in [0, 1] per script ("latin", "han"), then across scripts ("han→latin": a Chinese
    question, English passages; "latin→han")."""
    questions = {script: encode([question for question, _ in pairs]) for script, pairs in _PAIRS.items()}
    passages = {script: encode([passage for _, passage in pairs]) for script, pairs in _PAIRS.items()}
    skills = {script: _skill(questions[script], passages[script]) for script in SCRIPTS}
    for asked, found in CROSSINGS:
        skills[crossing(asked, found)] = _skill(questions[asked], passages[found])
    return skills


def major_script(text: str) -> str | None:
    """The script most of the text is written in, or None when it has no letters."""
    shares = script_shares(text)
    return max(shares, key=lambda script: shares[script]) if shares else None


def script_shares(text: str) -> dict[str, float]:
    """The share of each script in the text, counting a Chinese character or a run of other letters
    (a word) as one unit each; scripts that were not probed are "other"."""
    counts = dict.fromkeys((*SCRIPTS, "other"), 0)
    previous = None
    for char in text:
        if not char.isalpha():
            previous = None
            continue
        name = unicodedata.name(char, "")
        script = (
            "han"
            if name.startswith("CJK UNIFIED IDEOGRAPH")
            else "latin"
            if name.startswith("LATIN")
            else "other"
        )
        if script == "han" or script != previous:
            counts[script] += 1
        previous = script
    total = sum(counts.values())
    return {script: count / total for script, count in counts.items() if count} if total else {}
