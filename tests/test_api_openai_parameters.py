"""OpenAI's chat-completion parameters on /v1: values outside OpenAI's documented ranges, or of the
wrong JSON type, are a 400 naming the parameter; values inside them are accepted."""

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
COMPLETIONS = "/v1/chat/completions"
QUESTION = "DeepSeek-V3 有多少参数？"


def ask(client, **parameters):
    messages = [{"role": "user", "content": QUESTION}]
    return client.post(COMPLETIONS, {"model": "kb:guide", "messages": messages, **parameters})


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("max_tokens", 0),
        ("max_tokens", -5),
        ("max_tokens", "100"),
        ("max_tokens", 100.5),
        ("max_completion_tokens", 0),
        ("n", 2),
        ("n", 0),
        ("temperature", 2.01),
        ("temperature", -0.1),
        ("temperature", "0.7"),
        ("temperature", True),
        ("top_p", 1.5),
        ("top_p", -1),
        ("presence_penalty", 2.5),
        ("frequency_penalty", -3),
        ("stream", "yes"),
        ("stream", 1),
        ("stop", ["。"] * 17),
        ("stop", 42),
        ("stop", ["ok", 1]),
        ("seed", "7"),
        ("logprobs", "true"),
        ("top_logprobs", 21),
    ],
)
def test_it_refuses_a_parameter_out_of_range_naming_it(as_owner, kb, llm, param, value):
    response = ask(as_owner, **{param: value})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, None)
    assert llm.requests == []


def test_it_names_a_stream_option_of_the_wrong_type(as_owner, kb, llm):
    response = ask(as_owner, stream=True, stream_options={"include_usage": "yes"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream_options.include_usage"


def test_n_above_one_says_only_one_choice_is_given(as_owner, kb):
    assert "n must be 1" in ask(as_owner, n=3).json()["error"]["message"]


def test_the_message_is_in_the_clients_language(as_owner, kb):
    as_owner.headers["Accept-Language"] = "zh-Hans"
    assert "n 只能是 1" in ask(as_owner, n=3).json()["error"]["message"]
    assert "最多给出 16 个字符串" in ask(as_owner, stop=["。"] * 17).json()["error"]["message"]


@pytest.mark.parametrize(
    "parameters",
    [
        {"max_tokens": 1, "max_completion_tokens": 1, "n": 1, "temperature": 0, "top_p": 0},
        {"temperature": 2, "top_p": 1, "presence_penalty": -2, "frequency_penalty": 2, "seed": -1},
        {"temperature": 0.6, "presence_penalty": 1.5, "stop": "。", "logprobs": False, "top_logprobs": 0},
        {"stop": ["\n"] * 16, "stream": False, "stream_options": None},
        {key: None for key in ("max_tokens", "n", "temperature", "top_p", "stop", "stream", "seed")},
    ],
)
def test_it_accepts_parameters_in_range(as_owner, guide, llm, parameters):
    response = ask(as_owner, **parameters)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"]
