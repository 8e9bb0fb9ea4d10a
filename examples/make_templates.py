#!/usr/bin/env python3
"""Writes the example template PDFs (templates/*.pdf) and prints nothing.

The component boxes in demo-tenants.json use Tencent's convention (points, origin at the page's
top-left, y downwards); this script draws each label just left of its box and leaves the box
itself blank, so a filled value is the only ink inside it. Needs reportlab.
"""
import os

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = A4
pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))


def label(c, text, box_x, box_y, box_h, size=11):
    """A label ending 6 points left of a box given in top-left coordinates."""
    c.setFont("STSong-Light", size)
    c.drawRightString(box_x - 6, H - box_y - box_h + (box_h - size) / 2 + 2, text)


def para(c, x, y, lines, size=10.5, leading=18):
    c.setFont("STSong-Light", size)
    for i, line in enumerate(lines):
        c.drawString(x, H - y - i * leading, line)


def title(c, text, sub=None):
    c.setFont("STSong-Light", 22)
    c.drawCentredString(W / 2, H - 70, text)
    if sub:
        c.setFont("STSong-Light", 10)
        c.drawCentredString(W / 2, H - 92, sub)


def employment():
    c = canvas.Canvas(os.path.join(HERE, "templates/employment-contract.pdf"), pagesize=A4, invariant=1)
    c.setTitle("劳动合同")
    title(c, "劳动合同", "（示例模板，qianshu）")
    label(c, "甲方（用人单位）：", 170, 130, 20)
    label(c, "乙方（劳动者）：", 170, 160, 20)
    label(c, "乙方身份证号码：", 170, 190, 20)
    label(c, "工作岗位：", 170, 220, 20)
    label(c, "月工资（人民币元）：", 170, 250, 20)
    label(c, "合同起始日期：", 170, 280, 20)
    label(c, "工作地点：", 170, 310, 40)
    label(c, "约定试用期：", 170, 362, 14)
    label(c, "社会保险缴纳：", 170, 390, 20)
    c.setFont("STSong-Light", 9)
    c.drawCentredString(470, H - 285, "乙方照片")
    para(c, 60, 450, [
        "第一条　甲方根据工作需要，聘用乙方在上述岗位工作，乙方同意并按甲方要求完成工作任务。",
        "第二条　甲方按月以货币形式支付乙方工资，不得低于当地最低工资标准。",
        "第三条　甲乙双方依法参加社会保险，按规定缴纳各项社会保险费。",
        "第四条　乙方应遵守甲方依法制定的规章制度，保守甲方的商业秘密。",
        "第五条　本合同未尽事宜，按照国家和地方有关规定执行。",
    ])
    c.showPage()
    c.setFont("STSong-Light", 14)
    c.drawString(60, H - 80, "附件一　薪酬明细")
    para(c, 60, 290, [
        "第六条　本合同一式两份，甲乙双方各执一份，具有同等法律效力。",
        "第七条　本合同自双方签署之日起生效。",
    ])
    label(c, "乙方紧急联系人：", 170, 360, 20)
    label(c, "甲方意见：", 170, 400, 40)
    label(c, "甲方（盖章）：", 140, 560, 20)
    label(c, "乙方（签名）：", 420, 560, 20)
    label(c, "日期：", 140, 720, 20)
    label(c, "日期：", 420, 720, 20)
    c.showPage()
    c.save()


def confidentiality():
    c = canvas.Canvas(os.path.join(HERE, "templates/confidentiality-agreement.pdf"), pagesize=A4, invariant=1)
    c.setTitle("保密协议")
    title(c, "保密协议", "（示例模板，qianshu）")
    label(c, "甲方：", 170, 130, 20)
    label(c, "乙方：", 170, 160, 20)
    label(c, "保密期限（年）：", 170, 190, 20)
    label(c, "违约金（人民币元）：", 170, 220, 20)
    label(c, "签订日期：", 170, 250, 20)
    para(c, 60, 310, [
        "第一条　乙方在任职期间及离职后，对甲方的商业秘密负有保密义务。",
        "第二条　商业秘密包括但不限于技术信息、经营信息和客户信息。",
        "第三条　乙方违反本协议的，应按上述约定向甲方支付违约金。",
        "第四条　本协议自双方签署之日起生效。",
    ])
    label(c, "甲方（盖章）：", 140, 560, 20)
    label(c, "乙方（签名）：", 420, 560, 20)
    c.showPage()
    c.save()


if __name__ == "__main__":
    employment()
    confidentiality()
