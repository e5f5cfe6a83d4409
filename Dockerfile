FROM node:20-bookworm-slim
WORKDIR /weft
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build
ENV NODE_ENV=production
ENTRYPOINT []
