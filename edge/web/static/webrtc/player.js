// Live video of one camera over WebRTC: the gateway sends the camera's own H.264 packets.
// Where the browser cannot play them (no WebRTC, no H.264, no picture after a few seconds)
// the tile falls back to a still refreshed every second.
import { post } from "../api/client.js";

const FIRST_PICTURE_MS = 6000;

function iceDone(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

async function connect(video, cameraId) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addEventListener("track", (ev) => {
    video.srcObject = ev.streams[0] || new MediaStream([ev.track]);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await iceDone(pc);
  const { status, doc } = await post(`/api/cameras/${encodeURIComponent(cameraId)}/webrtc`, {
    sdp: pc.localDescription.sdp,
    type: pc.localDescription.type,
  });
  if (status !== 200) {
    pc.close();
    throw new Error(doc.error || String(status));
  }
  await pc.setRemoteDescription(doc);
  return pc;
}

function pictureWithin(video, ms) {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    video.addEventListener("playing", () => { clearTimeout(t); resolve(true); }, { once: true });
  });
}

// Plays in `video`, or refreshes `img` every second; returns a stop function.
export async function play(video, img, cameraId) {
  let pc = null;
  let timer = null;
  const stop = () => {
    if (pc) pc.close();
    if (timer) clearInterval(timer);
    video.srcObject = null;
  };
  const still = () => {
    video.hidden = true;
    img.hidden = false;
    const load = () => { img.src = `/api/cameras/${encodeURIComponent(cameraId)}/still.jpg?t=${Date.now()}`; };
    load();
    timer = setInterval(load, 1000);
  };
  if (!window.RTCPeerConnection) {
    still();
    return stop;
  }
  try {
    video.hidden = false;
    img.hidden = true;
    pc = await connect(video, cameraId);
    if (!(await pictureWithin(video, FIRST_PICTURE_MS))) throw new Error("no picture");
  } catch (err) {
    if (pc) pc.close();
    pc = null;
    still();
  }
  return stop;
}
