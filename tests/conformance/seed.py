"""Seeds a fresh `hcp serve` with a small realistic county for the API conformance run.

Usage: seed.py URL ADMIN_PASSWORD. Prints `TOKEN API_KEY` (the first administrator's session
token, the ingest source's key). Only the standard library: it runs before and without the
venv's packages.
"""

import json
import sys
import urllib.request

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code(first17):
    """统一社会信用代码 with its check character (GB 32100)."""
    total = sum(CHARSET.index(ch) * weight for ch, weight in zip(first17, WEIGHTS))
    return first17 + CHARSET[(31 - total % 31) % 31]


def call(url, path, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


def main():
    url, password = sys.argv[1], sys.argv[2]
    token = call(url, "/api/v1/auth/login", {"username": "admin", "password": password})["token"]
    department = credit_code("11410421MB0000001")
    records = [
        {"kind": "org_unit", "record": {"id": "410421", "kind": "county", "name": "宝丰县", "parent": "410400"}},
        {"kind": "org_unit", "record": {"id": department, "kind": "department", "name": "宝丰县市场监督管理局", "parent": "410421"}},
        {"kind": "org_unit", "record": {"id": "H-BF", "kind": "hall", "name": "宝丰县政务服务中心", "parent": "410421"}},
        {"kind": "org_unit", "record": {"id": "W-BF-01", "kind": "window", "name": "综合窗口1", "parent": "H-BF", "department": department, "has_device": True}},
        {"kind": "item", "record": {"task_code": "T-QYSL", "name": "企业设立登记", "department": department, "task_type": "行政许可"}},
    ]
    for record in records:
        call(url, "/api/v1/admin/master", record, token)
    issued = call(url, "/api/v1/admin/sources", {"id": "bf-devices", "name": "宝丰评价器", "scope": "410421"}, token)
    key = issued["api_key"]
    # Ten service acts in November, each rated: mostly 好评, two 差评 (one real-name) that open
    # work orders.
    levels = ["very_satisfied", "satisfied", "basic", "very_satisfied", "dissatisfied",
              "very_satisfied", "satisfied", "very_dissatisfied", "very_satisfied", "satisfied"]
    services, ratings = [], []
    for number, level in enumerate(levels, start=1):
        project = f"BF-2026-{number:04d}"
        day = 2 + number
        base = {"project_no": project, "task_code": "T-QYSL", "department": department,
                "area_code": "410421", "service_number": 1, "window": "W-BF-01"}
        services.append({**base, "event_id": f"svc-{project}", "service_name": "受理",
                         "status": "accepted", "occurred_at": f"2026-11-{day:02d}T09:00:00+08:00"})
        rating = {**base, "event_id": f"r-{project}", "level": level, "channel": "hall_device",
                  "indicators": [], "rated_at": f"2026-11-{day:02d}T09:30:00+08:00",
                  "evaluator": {"real_name": False}}
        if level in ("dissatisfied", "very_dissatisfied"):
            rating["indicators"] = ["510"]
            rating["text"] = "等候时间太长，窗口人员态度不好"
        if number == 5:
            rating["evaluator"] = {"real_name": True, "phone": "13900001111"}
        ratings.append(rating)
    headers = {"X-Api-Key": key}
    call(url, "/api/v1/sources/bf-devices/service-events", services, headers=headers)
    call(url, "/api/v1/sources/bf-devices/ratings", ratings, headers=headers)
    print(token, key)


if __name__ == "__main__":
    main()
