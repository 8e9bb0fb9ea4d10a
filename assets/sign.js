// The signing page's behaviour. The page works without it (the form posts as it is); this
// script renders the contracts, records a handwritten signature, shows one confirmation at a
// time, sends the verification code and holds the signing buttons for the required reading time.
// The HTML it relies on, and nothing else, is the contract in docs/signing-page.md.

// Served by the binary with this binary's versioned path in place of this one (src/page/assets.rs).
const PDFJS_URL = "/assets/vendor/pdfjs/pdf.min.mjs";

// The signing form, or on a RECIPIENT link not claimed yet the form where its holder says who
// they are (form.sign.claim: one confirmation, always shown).
const form = document.querySelector("form.sign");

// --- Contracts, rendered page by page with PDF.js ---------------------------------------------

let pdfjs = null;
function loadPdfjs() {
  if (!pdfjs) {
    pdfjs = import(PDFJS_URL).then((lib) => {
      lib.GlobalWorkerOptions.workerSrc = new URL("pdf.worker.min.mjs", new URL(PDFJS_URL, location.href)).href;
      return lib;
    });
    // A failed import (a browser too old for PDF.js) is retried on the next contract opened.
    pdfjs.catch(() => { pdfjs = null; });
  }
  return pdfjs;
}

// Pages are drawn when they come near the screen and let go when far from it, so a long
// contract costs the pixels of the pages being read only (phones' browsers limit the canvas
// memory of a page, and draw nothing past it).
const observe = (margin, each) => ("IntersectionObserver" in window
  ? new IntersectionObserver((entries) => entries.forEach(each), { rootMargin: `${margin}px 0px` })
  : null);
const near = observe(600, (e) => { if (e.isIntersecting) e.target.show(); });
const far = observe(3000, (e) => { if (!e.isIntersecting) e.target.hide(); });

async function showContract(box) {
  if (box.dataset.rendered) return;
  box.dataset.rendered = "loading";
  box.setAttribute("aria-busy", "true");
  const src = box.dataset.src;
  try {
    const lib = await loadPdfjs();
    const doc = await lib.getDocument({
      url: new URL(src, location.href).href,
      // Templates write Chinese in fonts they do not embed (STSong-Light, UniGB-UCS2-H): the
      // encoding's cMap turns their codes into characters the system font draws.
      cMapUrl: new URL("cmaps/", new URL(PDFJS_URL, location.href)).href,
      cMapPacked: true,
      isEvalSupported: false,
    }).promise;
    const first = await doc.getPage(1);
    const { width, height } = first.getViewport({ scale: 1 });
    const pages = [];
    for (let n = 1; n <= doc.numPages; n++) {
      const page = document.createElement("div");
      page.className = "page";
      page.style.aspectRatio = `${width} / ${height}`;
      page.setAttribute("role", "img");
      page.setAttribute("aria-label", `第 ${n} 页，共 ${doc.numPages} 页`);
      // Each draw has a number: one that finishes after the page was let go, or after a later
      // draw started, is dropped.
      let draws = 0;
      let drawn = false;
      page.show = () => {
        if (drawn) return;
        drawn = true;
        const draw = ++draws;
        renderPage(doc, n, page, () => draw === draws).catch(() => failed(box, src));
      };
      page.hide = () => {
        if (!drawn) return;
        drawn = false;
        draws++;
        for (const canvas of page.querySelectorAll("canvas")) canvas.width = canvas.height = 0;
        page.replaceChildren();
      };
      pages.push(page);
    }
    box.replaceChildren(...pages);
    box.dataset.rendered = "yes";
    box.removeAttribute("aria-busy");
    for (const page of pages) {
      if (near) {
        near.observe(page);
        far.observe(page);
      } else {
        page.show();
      }
    }
  } catch (e) {
    failed(box, src);
  }
}

async function renderPage(doc, n, holder, current) {
  const page = await doc.getPage(n);
  if (!current()) return;
  const natural = page.getViewport({ scale: 1 });
  // As many canvas pixels as the screen has device pixels across the page, so text is sharp.
  const pixels = Math.max(1, holder.clientWidth) * Math.min(window.devicePixelRatio || 1, 3);
  const viewport = page.getViewport({ scale: pixels / natural.width });
  const canvas = document.createElement("canvas");
  canvas.width = Math.floor(viewport.width);
  canvas.height = Math.floor(viewport.height);
  holder.style.aspectRatio = `${natural.width} / ${natural.height}`;
  await page.render({ canvas, canvasContext: canvas.getContext("2d"), viewport }).promise;
  page.cleanup();
  if (!current()) {
    canvas.width = canvas.height = 0;
    return;
  }
  holder.replaceChildren(canvas);
}

function failed(box, src) {
  if (box.dataset.rendered === "failed") return;
  box.dataset.rendered = "failed";
  box.removeAttribute("aria-busy");
  const text = document.createElement("p");
  text.className = "pdf-failed";
  text.textContent = "无法在此显示合同内容。";
  const link = document.createElement("a");
  link.href = src;
  link.textContent = "下载合同";
  link.setAttribute("download", "");
  box.replaceChildren(text, link);
}

const contracts = [...document.querySelectorAll(".directory details")];
for (const details of contracts) {
  const box = details.querySelector(".pdf[data-src]");
  if (!box) continue;
  details.addEventListener("toggle", () => { if (details.open) showContract(box); });
  if (details.open) showContract(box);
}
// The first contract is open from the start, so the signer sees what they sign.
if (contracts.length && !contracts.some((d) => d.open)) contracts[0].open = true;

// --- Messages -----------------------------------------------------------------------------------

// A message of this script sits where the signer is looking: above what it is about (the
// signature, the open confirmation). The server's own error, at the top where a reloaded page
// starts, is stale once this script speaks.
let message = null;
function showError(text, near) {
  if (!form) return;
  if (!message) {
    message = document.createElement("p");
    message.className = "error";
    message.setAttribute("role", "alert");
  }
  for (const old of document.querySelectorAll(".error")) if (old !== message) old.hidden = true;
  message.textContent = text;
  message.hidden = !text;
  if (!text) return;
  const place = near || form.querySelector("section.confirm:not([hidden])")?.firstElementChild || form.firstElementChild;
  if (message.nextElementSibling !== place) place.before(message);
  message.scrollIntoView({ block: "nearest" });
}

// --- Handwritten signature ----------------------------------------------------------------------

for (const pad of document.querySelectorAll("canvas.signature-pad")) {
  const fieldset = pad.closest("fieldset") || form;
  const image = fieldset.querySelector('input[name="SignatureImage"]');
  const ctx = pad.getContext("2d");
  let last = null;

  const at = (e) => {
    const r = pad.getBoundingClientRect();
    return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
  };
  const width = () => Math.max(3, pad.width / 150);

  pad.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    last = at(e);
    // A tap leaves a dot.
    ctx.fillStyle = "#000";
    ctx.beginPath();
    ctx.arc(last.x, last.y, width() / 2, 0, 2 * Math.PI);
    ctx.fill();
  });
  pad.addEventListener("pointermove", (e) => {
    if (!last) return;
    e.preventDefault();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = width();
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    // Fast strokes deliver several points per event; all of them make a smooth line.
    for (const p of (e.getCoalescedEvents ? e.getCoalescedEvents() : []).concat([e])) {
      last = at(p);
      ctx.lineTo(last.x, last.y);
    }
    ctx.stroke();
  });
  const end = () => {
    if (!last) return;
    last = null;
    pad.dataset.drawn = "yes";
    if (image) image.value = pad.toDataURL("image/png");
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  pad.addEventListener("lostpointercapture", end);

  fieldset.querySelector(".clear-pad")?.addEventListener("click", () => {
    ctx.clearRect(0, 0, pad.width, pad.height);
    delete pad.dataset.drawn;
    if (image) image.value = "";
  });
}

// --- Buttons: one confirmation at a time, timers ------------------------------------------------

if (form) {
  const sections = [...form.querySelectorAll("section.confirm")];
  const signSection = form.querySelector(".confirm-sign");
  const rejectSection = form.querySelector(".confirm-reject");
  const openSign = form.querySelector(".open-sign");
  const openReject = form.querySelector(".open-reject");
  const submitSign = form.querySelector(".submit-sign");
  const action = form.querySelector('input[type="hidden"][name="Action"]');
  // A rejection needs none of the fields the signing requires: the browser must not stop it.
  const submitReject = form.querySelector(".submit-reject");
  if (submitReject) submitReject.formNoValidate = true;
  const controls = "input, textarea, select, button";

  const labels = new Map();
  const label = (button) => {
    if (!labels.has(button)) labels.set(button, button.textContent);
    return labels.get(button);
  };

  // Deadlines, in Date.now() milliseconds: the reading time and the code button's wait.
  const holdSeconds = Number(form.dataset.holdSeconds) || 0;
  const holdUntil = Date.now() + holdSeconds * 1000;
  let codeUntil = 0;
  const left = (until) => Math.ceil((until - Date.now()) / 1000);

  // Every control's state follows from which section shows and which timers run, so a timer
  // ending never enables what a hidden section needs disabled, and the other way round.
  function refresh() {
    for (const section of sections) {
      for (const control of section.querySelectorAll(controls)) control.disabled = section.hidden;
    }
    for (const button of [openSign, submitSign]) {
      if (!button) continue;
      const wait = left(holdUntil);
      if (wait > 0) {
        button.disabled = true;
        button.textContent = `请阅读合同(${wait}s)`;
      } else {
        button.textContent = label(button);
        if (button === openSign) button.disabled = false;
      }
    }
    for (const button of form.querySelectorAll(".send-code")) {
      const wait = left(codeUntil);
      if (wait > 0) {
        button.disabled = true;
        button.textContent = `重新获取(${wait}s)`;
      } else {
        button.textContent = label(button);
        if (button.dataset.busy) button.disabled = true;
      }
    }
    if (left(holdUntil) > 0 || left(codeUntil) > 0) setTimeout(refresh, 250);
  }
  for (const b of [openSign, submitSign, ...form.querySelectorAll(".send-code")]) if (b) label(b);

  function reveal(section, focus) {
    for (const s of sections) s.hidden = s !== section;
    const which = section === rejectSection ? "reject" : "sign";
    if (action) action.value = which;
    form.dataset.confirm = which;
    refresh();
    section.scrollIntoView({ block: "nearest", behavior: "smooth" });
    focus?.focus({ preventScroll: true });
  }

  // What the server would refuse anyway, said before the code is sent: required fields first,
  // then a signature, typed or drawn.
  function readyToSign() {
    for (const control of form.querySelectorAll(".fields input, .fields select, .fields textarea")) {
      if (!control.checkValidity()) {
        control.reportValidity();
        return false;
      }
    }
    const signature = form.querySelector("fieldset.signature");
    if (signature) {
      const typed = signature.querySelector('input[name="SignatureText"]');
      const drawn = signature.querySelector('input[name="SignatureImage"]');
      if (!(typed && typed.value.trim()) && !(drawn && drawn.value)) {
        showError("请签名：输入姓名，或在签名框内手写", signature);
        typed?.focus();
        return false;
      }
    }
    return true;
  }

  openSign?.addEventListener("click", () => {
    if (!readyToSign()) return;
    showError("");
    reveal(signSection, signSection?.querySelector(".send-code"));
  });
  openReject?.addEventListener("click", () => {
    showError("");
    reveal(rejectSection, rejectSection?.querySelector("textarea"));
  });

  for (const button of form.querySelectorAll(".send-code")) {
    button.addEventListener("click", async () => {
      // A claim's code goes to the mobile typed, which must be one first.
      const mobile = form.classList.contains("claim") ? form.querySelector('input[name="Mobile"]') : null;
      if (mobile && !mobile.checkValidity()) {
        mobile.reportValidity();
        return;
      }
      button.dataset.busy = "yes";
      button.disabled = true;
      let retryAfter = 0;
      try {
        const response = await fetch(form.dataset.codeUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json" },
          body: mobile ? new URLSearchParams({ Mobile: mobile.value.trim() }) : undefined,
        });
        const answer = await response.json();
        retryAfter = Number(answer.RetryAfter) || 0;
        if (answer.Ok) {
          showError("");
          button.closest("section")?.querySelector('input[name="Code"]')?.focus();
        } else {
          showError(answer.Message || "验证码发送失败，请稍后重试");
        }
      } catch (e) {
        showError("网络异常，验证码未发送，请稍后重试");
      }
      delete button.dataset.busy;
      codeUntil = Date.now() + retryAfter * 1000;
      refresh();
    });
  }

  // Enter in a section's field submits that section (the form's first submit button, the one
  // the browser would press, may be the hidden section's).
  form.addEventListener("keydown", (e) => {
    const section = e.target.closest?.("section.confirm");
    if (e.key !== "Enter" || !section || e.target.tagName === "TEXTAREA") return;
    e.preventDefault();
    const submit = section.querySelector('button[type="submit"]');
    if (submit && !submit.disabled) form.requestSubmit ? form.requestSubmit(submit) : submit.click();
  });

  // One press, one submission; disabled only after the browser has read the pressed button's
  // value into the submission.
  form.addEventListener("submit", (e) => {
    const submit = e.submitter;
    if (form.dataset.submitting) {
      e.preventDefault();
      return;
    }
    form.dataset.submitting = "yes";
    setTimeout(() => { if (submit) submit.disabled = true; });
  });
  // A page restored from the back-forward cache may be submitted again.
  window.addEventListener("pageshow", () => {
    delete form.dataset.submitting;
    refresh();
  });

  refresh();
}
